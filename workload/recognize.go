package workload

import (
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Recognizer decides which workloads are agents: by the built-in ways the
// package doc lists, and by the image patterns of the settings. The zero
// Recognizer knows the built-in ways only.
type Recognizer struct {
	// Images are image patterns (CheckImagePattern) naming agent images
	// besides grafana/alloy and grafana/agent: mirrors and rebuilds, such
	// as "*/mirror/alloy*".
	Images []string
}

// Label and env values that name an agent besides its image.
const (
	// LabelAppName is the recommended label the Alloy and Grafana Agent
	// charts set to their chart name on the workload and its pods.
	LabelAppName = "app.kubernetes.io/name"
	// EnvAlloyDeployMode is set by the Alloy chart on the alloy container
	// (grafana/alloy operations/helm/charts/alloy/templates/containers/_agent.yaml).
	EnvAlloyDeployMode = "ALLOY_DEPLOY_MODE"
)

// appNameFlavors are the LabelAppName values of the agent charts.
var appNameFlavors = map[string]string{"alloy": FlavorAlloy, "grafana-agent": FlavorAgent}

// MaxImagePatternLength bounds one image pattern (an image reference is at
// most a few hundred characters).
const MaxImagePatternLength = 512

// ErrImagePattern marks an invalid image pattern.
var ErrImagePattern = errors.New("invalid image pattern")

// CheckImagePattern reports whether p is a valid image pattern: a glob over
// the image reference as a container writes it, tag or digest included,
// where `*` matches any run of characters but `/` and every other character
// matches itself. Only letters, digits and . _ - / : @ * are allowed (the
// characters of image references), so that the webhooks' CEL
// matchConditions can test the same pattern as a regular expression; at
// least one letter or digit is required, so that no pattern matches every
// image.
func CheckImagePattern(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrImagePattern)
	}
	if len(p) > MaxImagePatternLength {
		return fmt.Errorf("%w: %d characters, more than %d", ErrImagePattern, len(p), MaxImagePatternLength)
	}
	literal := false
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			literal = true
		case strings.ContainsRune("._-/:@*", r):
		default:
			return fmt.Errorf("%w: %q: %q is not a character of an image reference (letters, digits, . _ - / : @) or *", ErrImagePattern, p, r)
		}
	}
	if !literal {
		return fmt.Errorf("%w: %q: no letter or digit, it would match every image", ErrImagePattern, p)
	}
	return nil
}

// matchImage returns the first pattern of r that image matches, "" when
// none does. Patterns are checked by CheckImagePattern when the settings are
// loaded; one that is not valid never matches.
func (r Recognizer) matchImage(image string) string {
	image = strings.TrimSpace(image)
	for _, p := range r.Images {
		// path.Match's * stops at /, as the pattern's doc says; the
		// allowed characters hold none of its other metacharacters.
		if ok, err := path.Match(p, image); err == nil && ok && CheckImagePattern(p) == nil {
			return p
		}
	}
	return ""
}

// runsAgent returns the flavor of a container that runs an agent by its
// command line: `alloy run`, `grafana-agent-flow run`, or `grafana-agent
// run` with AGENT_MODE=flow (without it Grafana Agent runs in static mode,
// docs/domain.md, Agent and Alloy); "" otherwise.
func runsAgent(c *corev1.Container, cl commandLine) string {
	r := cl.run
	if r == nil || r.Subcommand != "run" {
		return ""
	}
	switch path.Base(r.Binary) {
	case "alloy":
		return FlavorAlloy
	case "grafana-agent-flow":
		return FlavorAgent
	case "grafana-agent":
		if literalEnv(c, "AGENT_MODE") == "flow" {
			return FlavorAgent
		}
	}
	return ""
}

// hasEnv reports whether the container sets the env var (any source).
func hasEnv(c *corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// literalEnv is the literal value of the container's last env entry of
// that name ("" when none or not a literal).
func literalEnv(c *corev1.Container, name string) string {
	v := ""
	for _, e := range c.Env {
		if e.Name == name {
			v = ""
			if e.ValueFrom == nil {
				v = e.Value
			}
		}
	}
	return v
}

// appName returns the LabelAppName value of an agent chart and where it was
// read: the object's labels win over its pod template's.
func appName(own, template map[string]string) (value, where string) {
	if v := own[LabelAppName]; appNameFlavors[v] != "" {
		return v, ""
	}
	if v := template[LabelAppName]; appNameFlavors[v] != "" {
		return v, " on the pod template"
	}
	return "", ""
}
