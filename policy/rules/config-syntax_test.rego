package modeguard.rules.config_syntax_test

import data.modeguard.rules.config_syntax as rule

test_each_error if {
	vs := rule.violations with input as {"config": {"files": [{"file": "config.alloy", "errors": [{"file": "config.alloy", "line": 3, "column": 7, "message": "expected }"}]}]}}
	count(vs) == 1
	some v in vs
	v.msg == "config.alloy:3:7: expected }"
	v.line == 3
}

test_clean_file if {
	count(rule.violations) == 0 with input as {"config": {"files": [{"file": "config.alloy", "errors": []}]}}
}

test_no_config if {
	count(rule.violations) == 0 with input as {"config": null}
}
