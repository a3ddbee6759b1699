package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"diemcau/recorder"
)

// RunVerdict is `diemcau archive verify --config CFG --json` of one run
// folder: with the config, verify checks the seal's signature with the
// server's key and the manifest against the store's witness.
type RunVerdict struct {
	Run              string   `json:"run"`
	Exit             int      `json:"exit"` // 0 intact, 1 problems, 2 unreadable
	Sealed           bool     `json:"sealed"`
	SealReason       string   `json:"seal_reason"`
	SignatureChecked bool     `json:"signature_checked"`
	Witness          string   `json:"witness"`
	Segments         int      `json:"segments"`
	Bytes            int64    `json:"bytes"`
	Interruptions    int      `json:"interruptions"`
	Truncated        []string `json:"truncated"` // cut back to their last whole fragment by repair
	Discarded        []string `json:"discarded"` // removed by repair: no whole fragment
	Problems         []string `json:"problems"`
}

// verifyRuns checks every run folder of the session with the binary, as
// an auditor would.
func verifyRuns(ctx context.Context, binary, cfgPath, root, sessionDir string) ([]RunVerdict, error) {
	var out []RunVerdict
	for _, dir := range runFolders(sessionDir) {
		v, err := verifyRun(ctx, binary, cfgPath, dir)
		if err != nil {
			return out, err
		}
		v.Run, _ = filepath.Rel(root, dir)
		v.Run = filepath.ToSlash(v.Run)
		out = append(out, v)
	}
	return out, nil
}

func verifyRun(ctx context.Context, binary, cfgPath, dir string) (RunVerdict, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "archive", "verify", "--config", cfgPath, "--json", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	v := RunVerdict{Truncated: []string{}, Discarded: []string{}, Problems: []string{}}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		v.Exit = ee.ExitCode()
	default:
		return v, fmt.Errorf("archive verify %s: %w", dir, err)
	}
	var rep recorder.Report // as verify --json writes it
	if jerr := json.Unmarshal(raw, &rep); jerr != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("verify exit %d, no report: %s", v.Exit, strings.TrimSpace(stderr.String())))
		return v, nil
	}
	v.Sealed, v.SealReason, v.SignatureChecked, v.Witness = rep.Sealed, rep.SealReason, rep.SignatureChecked, rep.Witness
	v.Segments, v.Bytes, v.Interruptions = rep.Segments, rep.Bytes, len(rep.Interruptions)
	for _, in := range rep.Interruptions {
		v.Truncated = append(v.Truncated, in.Truncated...)
		v.Discarded = append(v.Discarded, in.Discarded...)
	}
	for _, p := range rep.Problems {
		v.Problems = append(v.Problems, fmt.Sprintf("%s %s: %s", p.Kind, p.File, p.Detail))
	}
	return v, nil
}

// judgeRuns lists what is wrong with the runs: any problem, a run not
// sealed, a seal whose signature was not checked, a manifest the store's
// witness does not vouch for, and a count of interrupted runs other than
// the kills made.
func judgeRuns(runs []RunVerdict, kills int) []string {
	var bad []string
	interrupted := 0
	for _, r := range runs {
		if r.SealReason == "interrupted" {
			interrupted++
		}
		switch {
		case r.Exit != 0 || len(r.Problems) > 0:
			bad = append(bad, fmt.Sprintf("run %s does not verify (exit %d): %s", r.Run, r.Exit, strings.Join(r.Problems, "; ")))
		case !r.Sealed:
			bad = append(bad, fmt.Sprintf("run %s is not sealed", r.Run))
		case !r.SignatureChecked:
			bad = append(bad, fmt.Sprintf("run %s: its seal's signature was not checked", r.Run))
		case r.Witness != "agrees":
			bad = append(bad, fmt.Sprintf("run %s: the store's witness is %q, not \"agrees\"", r.Run, r.Witness))
		}
	}
	if len(runs) == 0 {
		bad = append(bad, "no run folder to verify")
	}
	if interrupted != kills {
		bad = append(bad, fmt.Sprintf("%d runs repaired as interrupted after %d kills", interrupted, kills))
	}
	return bad
}
