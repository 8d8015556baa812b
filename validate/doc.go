// Package validate is the validating admission handler of the modeguard
// webhook, served at /validate. It sees objects after the mutating webhook
// fixed them, and denies those that still break a rule whose action is deny
// (or whose fix could not apply), with a message listing each deny finding
// (rule id and slug, component, River position, and the object it is about);
// warn findings become admission warnings, audit findings are logged and
// counted.
//
// The handler is thin: decode, guard, review (package admit), build the
// response. It never denies a Pod (modeguard's Pod checks are fixes; a denied
// Pod only shows up as a controller event), and the shipped webhook
// configuration does not send it Pods at all.
package validate
