package store

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentWrites runs writers of every kind at once on a file store,
// with several pooled connections: none may fail with SQLITE_BUSY and
// nothing may be lost.
func TestConcurrentWrites(t *testing.T) {
	ctx, s := sessionFixture(t)
	file := openTemp(t)
	for _, src := range []string{"tinh", "xa-a", "xa-b"} {
		if _, err := file.CreateSource(ctx, Source{ID: src, URL: "sim://" + src}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := file.CreateSession(ctx, Session{ID: "demo", Start: StartLive, Points: []Point{{ID: "tinh", Source: "tinh", Gain: 1}}}); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*Store{"memory": s, "file": file} {
		t.Run(name, func(t *testing.T) {
			const workers, each = 6, 15
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						var err error
						switch i % 5 {
						case 0:
							_, err = st.AppendAudit(ctx, Audit{Actor: fmt.Sprintf("w%d", w), Result: 200})
						case 1:
							_, err = st.CreateSource(ctx, Source{ID: fmt.Sprintf("w%d-%d", w, i), URL: "sim://x"})
						case 2:
							g := float64(i)
							_, err = st.UpdatePoint(ctx, "demo", "tinh", &g, nil, nil)
						case 3:
							_, err = st.AddCheck(ctx, sampleCheck("demo", CheckManual))
						case 4:
							_, err = st.ListSessions(ctx)
						}
						if err != nil {
							errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := tableCount(t, st.db, "audit"); n != workers*3 {
				t.Errorf("audit rows = %d, want %d", n, workers*3)
			}
			checks, err := st.ListChecks(ctx, "demo")
			if err != nil || len(checks) != workers*3 {
				t.Fatalf("checks = %d, %v; want %d", len(checks), err, workers*3)
			}
			for i, c := range checks {
				if c.N != i+1 {
					t.Fatalf("check numbers not 1..n: %d at %d", c.N, i)
				}
			}
		})
	}
}
