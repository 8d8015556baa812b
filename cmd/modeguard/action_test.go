package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAction: action.yml is a composite action that installs modeguard,
// runs check with flags check has, and uploads the SARIF it writes.
func TestAction(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
		Runs struct {
			Using string `json:"using"`
			Steps []struct {
				Name string            `json:"name"`
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				If   string            `json:"if"`
				Run  string            `json:"run"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"runs"`
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q, want composite", a.Runs.Using)
	}
	if !slices.Contains(failOnValues, a.Inputs["fail-on"].Default) {
		t.Errorf("input fail-on defaults to %q, not a --fail-on value", a.Inputs["fail-on"].Default)
	}
	var install, check, upload bool
	check_ := newCheck()
	for _, s := range a.Runs.Steps {
		switch {
		case s.Name == "Install modeguard":
			install = true
			testInstallStep(t, s.Run)
		case strings.Contains(s.Run, "modeguard check "):
			check = true
			// Every flag the step passes is one check has: on the lines
			// that run check or build its outputs.
			var lines []string
			for _, l := range strings.Split(s.Run, "\n") {
				if strings.Contains(l, "modeguard check ") || strings.Contains(l, "outputs") {
					lines = append(lines, l)
				}
			}
			for _, m := range regexp.MustCompile(`(?:^|\s|\()(--?[a-z][a-z-]*)`).FindAllStringSubmatch(strings.Join(lines, "\n"), -1) {
				f := strings.TrimLeft(m[1], "-")
				if strings.HasPrefix(m[1], "--") && check_.Flags().Lookup(f) == nil && f != "mod" {
					t.Errorf("the check step passes %s, which check does not have", m[1])
				}
				if !strings.HasPrefix(m[1], "--") && len(f) == 1 && check_.Flags().ShorthandLookup(f) == nil {
					t.Errorf("the check step passes %s, which check does not have", m[1])
				}
			}
			if s.ID != "check" {
				t.Errorf("the check step's id is %q; its exit-code output is read as steps.check", s.ID)
			}
			testCheckStep(t, s.Run)
		case strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@"):
			upload = s.With["sarif_file"] == "${{ inputs.sarif-file }}"
			// Only a report check wrote (exit 0 or 1): an empty exit-code
			// (the install failed) or 2 (input error) leaves none.
			for _, want := range []string{"always()", "steps.check.outputs.exit-code == '0'", "steps.check.outputs.exit-code == '1'"} {
				if !strings.Contains(s.If, want) {
					t.Errorf("the upload step's if %q lacks %q", s.If, want)
				}
			}
		}
	}
	if !install || !check || !upload {
		t.Errorf("install %v, check %v, upload of the SARIF %v: want all", install, check, upload)
	}
	// The outputs the check step builds are ones -o takes.
	if _, err := parseOutputs([]string{"sarif=" + a.Inputs["sarif-file"].Default, "github"}); err != nil {
		t.Error(err)
	}
}

// testInstallStep runs the action's install step against a fake release
// (gh on PATH serving assets named as .github/workflows/release.yaml names
// them): it must install the release's binary for the runner, checked
// against the release's checksums.txt, and refuse one that does not match.
// No go on PATH: the action installs the released binary, it does not
// build one.
func testInstallStep(t *testing.T, script string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	release, err := os.ReadFile("../../.github/workflows/release.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`-o "dist/${name}_${VERSION}_${os}_${arch}${ext}"`, `sha256sum -- * > checksums.txt`, `gh release create "$VERSION"`} {
		if !bytes.Contains(release, []byte(want)) {
			t.Fatalf("release.yaml no longer has %q: the asset names the action downloads may have changed", want)
		}
	}
	const tag = "v9.9.9"
	for _, c := range []struct {
		name, version, runnerOS, arch, asset string
		tamper, wantOK                       bool
	}{
		{"linux amd64", tag, "Linux", "X64", "modeguard_v9.9.9_linux_amd64", false, true},
		{"latest on macOS arm64", "latest", "macOS", "ARM64", "modeguard_v9.9.9_darwin_arm64", false, true},
		{"windows", tag, "Windows", "X64", "modeguard_v9.9.9_windows_amd64.exe", false, true},
		{"checksum mismatch", tag, "Linux", "X64", "modeguard_v9.9.9_linux_amd64", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			assets, bin, tmp := filepath.Join(dir, "assets"), filepath.Join(dir, "bin"), filepath.Join(dir, "tmp")
			for _, d := range []string{assets, bin, tmp} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Every asset of the release, and their checksums.
			var sums strings.Builder
			for _, o := range []string{"linux", "darwin", "windows"} {
				for _, arch := range []string{"amd64", "arm64"} {
					ext := ""
					if o == "windows" {
						ext = ".exe"
					}
					for _, name := range []string{"modeguard", "modeguard-webhook"} {
						file := name + "_" + tag + "_" + o + "_" + arch + ext
						data := []byte("binary " + file + "\n")
						sum := sha256.Sum256(data)
						sums.WriteString(hex.EncodeToString(sum[:]) + "  " + file + "\n")
						if c.tamper {
							data = append(data, "tampered\n"...)
						}
						if err := os.WriteFile(filepath.Join(assets, file), data, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if err := os.WriteFile(filepath.Join(assets, "checksums.txt"), []byte(sums.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			// gh: "release view" names the latest tag, "release download"
			// copies the assets matching each --pattern into --dir.
			gh := `#!/usr/bin/env bash
set -eu
echo "gh $*" >> "$GH_LOG"
case "$1 $2" in
"release view") echo ` + tag + ` ;;
"release download")
  [ "$3" = ` + tag + ` ] || { echo "no release $3" >&2; exit 1; }
  shift 3; pats=(); dir=.
  while [ $# -gt 0 ]; do
    case "$1" in
    --pattern|-p) pats+=("$2"); shift 2 ;;
    --dir|-D) dir=$2; shift 2 ;;
    --repo|-R) [ "$2" = modeguard/modeguard ] || exit 1; shift 2 ;;
    *) shift ;;
    esac
  done
  for p in "${pats[@]}"; do cp "$ASSETS/$p" "$dir/"; done ;;
*) echo "unexpected gh $*" >&2; exit 1 ;;
esac
`
			if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(gh), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bin, "go"), []byte("#!/bin/sh\necho 'go run by the install step' >&2\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			githubPath := filepath.Join(dir, "github_path")
			// As GitHub runs a step with shell: bash.
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
			cmd.Env = []string{
				"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin",
				"HOME=" + dir,
				"ASSETS=" + assets,
				"GH_LOG=" + filepath.Join(dir, "gh.log"),
				"VERSION=" + c.version,
				"REPOSITORY=modeguard/modeguard",
				"GH_TOKEN=token",
				"RUNNER_OS=" + c.runnerOS,
				"RUNNER_ARCH=" + c.arch,
				"RUNNER_TEMP=" + tmp,
				"GITHUB_PATH=" + githubPath,
			}
			out, err := cmd.CombinedOutput()
			if !c.wantOK {
				if err == nil || !strings.Contains(string(out), c.asset+": FAILED") {
					t.Fatalf("the install step accepted a binary that does not match checksums.txt, or failed otherwise (%v):\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("install step: %v\n%s", err, out)
			}
			paths, _ := os.ReadFile(githubPath)
			installed := strings.TrimSpace(string(paths))
			exe := "modeguard"
			if c.runnerOS == "Windows" {
				exe += ".exe"
			}
			got, err := os.ReadFile(filepath.Join(installed, exe))
			if err != nil {
				t.Fatalf("GITHUB_PATH %q has no %s: %v\n%s", installed, exe, err, out)
			}
			if want := "binary " + c.asset + "\n"; string(got) != want {
				t.Errorf("installed %q, want the release asset %s", got, c.asset)
			}
			if st, _ := os.Stat(filepath.Join(installed, exe)); st.Mode().Perm()&0o100 == 0 {
				t.Errorf("the installed binary is not executable: %v", st.Mode())
			}
		})
	}
}

// testCheckStep runs the action's check step as GitHub runs a bash step
// (-e, pipefail) with a fake modeguard: the exit status of check is the
// step's exit-code output whatever it is, the step fails only on a usage
// or input error (2: no report to upload), and the inputs reach check as
// the workflow wrote them: args split as a shell would, quotes removed,
// globs not expanded.
func testCheckStep(t *testing.T, script string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, code := range []int{0, 1, 2} {
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(filepath.Join(dir, "testdata"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"bin/.keep", "testdata/a.yaml", "testdata/b.yaml"} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fake := "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" > \"$ARGS_LOG\"\nexit " + itoa(code) + "\n"
		if err := os.WriteFile(filepath.Join(bin, "modeguard"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		output, log := filepath.Join(dir, "github_output"), filepath.Join(dir, "args")
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = []string{
			"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin",
			"ARGS_LOG=" + log,
			"PATHS=deploy/ extra.yaml",
			"FAIL_ON=fix",
			`ARGS=--settings "policy/my settings.yaml" --ignore 'testdata/*'`,
			"SARIF=modeguard.sarif",
			"ANNOTATIONS=true",
			"GITHUB_OUTPUT=" + output,
		}
		out, err := cmd.CombinedOutput()
		status := 0
		if err != nil {
			status = cmd.ProcessState.ExitCode()
		}
		want := 0
		if code == 2 {
			want = 2
		}
		if status != want {
			t.Errorf("check exits %d: the step exits %d, want %d\n%s", code, status, want, out)
		}
		got, _ := os.ReadFile(output)
		if w := "exit-code=" + itoa(code) + "\n"; string(got) != w {
			t.Errorf("check exits %d: GITHUB_OUTPUT %q, want %q", code, got, w)
		}
		args, _ := os.ReadFile(log)
		wantArgs := []string{"check", "deploy/", "extra.yaml", "-o", "sarif=modeguard.sarif", "-o", "github", "--fail-on", "fix", "--settings", "policy/my settings.yaml", "--ignore", "testdata/*"}
		if g := strings.Split(strings.TrimSuffix(string(args), "\n"), "\n"); !slices.Equal(g, wantArgs) {
			t.Errorf("modeguard got the arguments %q, want %q", g, wantArgs)
		}
	}
}
