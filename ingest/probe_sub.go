package ingest

import (
	"context"
	"sync"
	"time"
)

// ProbePair probes a camera's main stream and its sub-stream at the same
// time, for d each; the sub-stream's report is rep.Sub. Without a subURL
// it is ProbeWith. The error is the main stream's (could not connect);
// the sub-stream's failure is in its report and fails the verdict. Its
// warnings do not count: a sub-stream without sound or at a low bitrate is
// what a sub-stream is.
func ProbePair(ctx context.Context, mainURL, subURL string, d time.Duration, opts ProbeOptions, subOpts ProbeOptions) (ProbeReport, error) {
	if subURL == "" {
		return ProbeWith(ctx, mainURL, d, opts)
	}
	var sub ProbeReport
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		sub, err = ProbeWith(ctx, subURL, d, subOpts)
		if err != nil && sub.Error == "" {
			sub.Error = RedactError(err, subURL)
		}
	}()
	rep, err := ProbeWith(ctx, mainURL, d, opts)
	wg.Wait()
	rep.Sub = &sub
	if sub.Verdict == CheckFail {
		rep.Verdict = CheckFail
	}
	return rep, err
}
