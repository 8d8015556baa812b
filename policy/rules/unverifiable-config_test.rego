package modeguard.rules.unverifiable_config_test

import data.modeguard.rules.unverifiable_config as rule

test_reports_each if {
	vs := rule.violations with input as {"config": {"files": [{"file": "c.alloy", "unverifiable": [
		{"component": "import.git.mods", "kind": "import", "reason": "loaded at run time", "range": {"start": {"line": 2, "column": 1}}},
		{"component": "remotecfg", "kind": "remotecfg", "reason": "fetched at run time", "range": {"start": {"line": 9, "column": 1}}},
	]}]}}
	count(vs) == 2
}

test_none if {
	count(rule.violations) == 0 with input as {"config": {"files": [{"file": "c.alloy", "unverifiable": []}]}}
}

test_too_large_warns if {
	vs := rule.violations with input as {"config": {"files": [{"file": "c.alloy", "unverifiable": [
		{"component": "", "kind": "too-large", "reason": "the file has 9000 components", "range": {"start": {"line": 700, "column": 1}}},
	]}]}}
	count(vs) == 1
	some v in vs
	v.action == "warn"
	startswith(v.msg, "not checked: ")
}
