package workload

import (
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// imageDefaults is what an agent image runs when the container sets neither
// command nor args (its Dockerfile's ENTRYPOINT and CMD).
type imageDefaults struct {
	entrypoint string
	cmd        []string
}

// defaultsFor returns the documented ENTRYPOINT and CMD of an agent image
// repository (grafana/alloy and grafana/agent Dockerfiles).
func defaultsFor(repo string) (imageDefaults, bool) {
	switch repo {
	case "grafana/alloy":
		return imageDefaults{"/bin/alloy", []string{"run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data"}}, true
	case "grafana/agent":
		return imageDefaults{"/bin/grafana-agent", []string{"--config.file=/etc/agent/agent.yaml", "--metrics.wal-directory=/etc/agent/data"}}, true
	}
	return imageDefaults{}, false
}

// isBoolFlag reports whether pflag treats the flag as a boolean for
// `alloy run` / `grafana-agent run`: a boolean never takes the next argument
// as its value. Flags not known here are booleans when their name says so.
func isBoolFlag(name string) bool {
	switch name {
	case "cluster.enabled", "cluster.enable-tls", "server.http.enable-pprof",
		"server.http.disable-support-bundle", "disable-support-bundle",
		"config.bypass-conversion-errors", "disable-reporting",
		"feature.community-components.enabled", "cluster.use-discovery-v1":
		return true
	}
	return strings.HasSuffix(name, ".enabled") || strings.HasPrefix(name, "enable-") ||
		strings.HasPrefix(name, "disable-")
}

// token is one argument of the command line and where it is written.
type token struct {
	text string
	at   Arg // field "" for the image's default command
}

// commandLine is the parsed command line of a container.
type commandLine struct {
	run       *Run
	argsField string
	flagStyle string
	flags     []Flag // written in command or args, in order
	flagsEnd  *Arg   // the "--" written there
}

// parseCommandLine reads a container's command and args as pflag would, with
// imageRepo (e.g. "grafana/alloy", "" when unknown) supplying the image's
// default entrypoint and command where the container leaves them out.
func parseCommandLine(c *corev1.Container, imageRepo string) commandLine {
	var (
		r    = &Run{}
		toks []token
	)
	defaults, hasDefaults := defaultsFor(imageRepo)
	switch {
	case len(c.Command) > 0:
		r.Binary, r.BinaryFrom = c.Command[0], "command"
		for i := 1; i < len(c.Command); i++ {
			toks = append(toks, token{c.Command[i], Arg{ArgsCommand, i}})
		}
		for i, s := range c.Args {
			toks = append(toks, token{s, Arg{ArgsArgs, i}})
		}
	case len(c.Args) > 0:
		if hasDefaults {
			r.Binary, r.BinaryFrom = defaults.entrypoint, "image entrypoint"
		}
		for i, s := range c.Args {
			toks = append(toks, token{s, Arg{ArgsArgs, i}})
		}
	case hasDefaults:
		r.Binary, r.BinaryFrom = defaults.entrypoint, "image entrypoint"
		r.Inferred = "image default command of " + imageRepo + ": " + strings.Join(defaults.cmd, " ")
		for i, s := range defaults.cmd {
			toks = append(toks, token{s, Arg{Index: i}})
		}
	}

	var (
		positional       []token
		lastFlagField    string
		equals, separate int
		subcommandField  string
		flags            = map[string]string{}
		afterDoubleDash  bool
		written          []Flag
		end              *Arg
	)
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if afterDoubleDash || t == "-" || !strings.HasPrefix(t, "-") {
			positional = append(positional, toks[i])
			continue
		}
		at := toks[i].at
		isWritten := at.Field != "" // not the image's default command
		if t == "--" {
			afterDoubleDash = true
			if isWritten {
				end = &at
			}
			continue
		}
		lastFlagField = at.Field
		name := strings.TrimLeft(t, "-")
		f := Flag{Name: name, At: at}
		switch k, v, ok := strings.Cut(name, "="); {
		case ok:
			flags[k] = v
			f.Name, f.Value, f.Equals = k, v, true
			if isWritten && !isBoolFlag(k) {
				equals++
			}
		case !isBoolFlag(name) && i+1 < len(toks) && !strings.HasPrefix(toks[i+1].text, "-"):
			i++
			flags[name] = toks[i].text
			va := toks[i].at
			f.Value, f.ValueAt = toks[i].text, &va
			if isWritten {
				separate++
			}
		default:
			flags[name] = "true"
		}
		if isWritten {
			written = append(written, f)
		}
	}
	if len(positional) > 0 {
		r.Subcommand = positional[0].text
		subcommandField = positional[0].at.Field
	}
	if r.Subcommand == "run" && len(positional) > 1 {
		r.ConfigPath = positional[1].text
	}
	if len(flags) > 0 {
		r.Flags = flags
	}
	r.StoragePath = flags["storage.path"]
	r.ConfigFormat = flags["config.format"]
	r.Cluster = clusterFrom(flags)

	cl := commandLine{run: r, flags: written, flagsEnd: end}
	switch {
	case lastFlagField != "":
		cl.argsField = lastFlagField
	case subcommandField != "":
		cl.argsField = subcommandField
	case len(c.Command) > 0 || len(c.Args) > 0:
		cl.argsField = ArgsArgs
	}
	switch {
	case separate > equals:
		cl.flagStyle = FlagStyleSeparate
	case equals > 0:
		cl.flagStyle = FlagStyleEquals
	}
	if r.Binary == "" && len(toks) == 0 {
		cl.run = nil
	}
	return cl
}

// clusterFrom gathers the --cluster.* flags.
func clusterFrom(flags map[string]string) Cluster {
	var c Cluster
	for k, v := range flags {
		if !strings.HasPrefix(k, "cluster.") {
			continue
		}
		if c.Flags == nil {
			c.Flags = map[string]string{}
		}
		c.Flags[k] = v
	}
	c.Enabled, _ = strconv.ParseBool(flags["cluster.enabled"]) // pflag rejects other values: the process would not start
	if j := flags["cluster.join-addresses"]; j != "" {
		// Split as Alloy's splitPeers does: no trimming, so " b" in "a, b"
		// stays visible as the unresolvable address it is.
		c.JoinAddresses = strings.Split(j, ",")
	}
	c.DiscoverPeers = flags["cluster.discover-peers"]
	c.AdvertiseAddress = flags["cluster.advertise-address"]
	c.Name = flags["cluster.name"]
	return c
}

// binaryFlavor returns the flavor a binary's name says, or "".
func binaryFlavor(binary string) string {
	switch path.Base(binary) {
	case "alloy":
		return FlavorAlloy
	case "grafana-agent", "grafana-agent-flow", "agent":
		return FlavorAgent
	}
	return ""
}
