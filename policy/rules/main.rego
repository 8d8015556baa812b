# The entry point: every violation of every rule package under
# modeguard.rules, tagged with the package it came from.
package modeguard.main

violations contains object.union(v, {"package": sprintf("modeguard.rules.%s", [name])}) if {
	some name, rule in data.modeguard.rules
	some v in rule.violations
	is_object(v)
}
