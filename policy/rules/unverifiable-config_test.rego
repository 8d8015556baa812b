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
