package testkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeT records failures instead of failing, so the failure paths can be
// checked; Fatalf stops its goroutine as testing's does.
type fakeT struct {
	testing.TB
	failed   atomic.Bool
	cleanups []func()
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed.Store(true) }
func (f *fakeT) Fatalf(string, ...any) { f.failed.Store(true); panic(errStop) }
func (f *fakeT) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Logf(string, ...any)   {}
func (f *fakeT) Failed() bool          { return f.failed.Load() }
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

var errStop = errors.New("fatal")

// run calls fn as a test body would, turning Fatalf's stop into a return.
func (f *fakeT) run(fn func()) {
	defer func() {
		if r := recover(); r != nil && r != errStop {
			panic(r)
		}
	}()
	fn()
}

func TestStart(t *testing.T) {
	tests := []struct {
		name     string
		run      func(ctx context.Context) error
		ready    bool // close the ready channel
		wantFail bool
	}{
		{"stops with its test", func(ctx context.Context) error { <-ctx.Done(); return nil }, true, false},
		{"an error from Run fails the test", func(ctx context.Context) error { <-ctx.Done(); return errors.New("boom") }, true, true},
		{"returning before ready fails the test", func(context.Context) error { return errors.New("no port") }, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeT{}
			ready := make(chan struct{})
			if tc.ready {
				close(ready)
			}
			ft.run(func() {
				r := Start(ft, "component", tc.run)
				r.WaitReady(ready, 2*time.Second)
			})
			ft.end()
			if ft.Failed() != tc.wantFail {
				t.Fatalf("failed = %v, want %v", ft.Failed(), tc.wantFail)
			}
		})
	}
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	Eventually(t, 5*time.Second, "the third poll", func() bool { return n.Add(1) >= 3 })
	ft := &fakeT{}
	ft.run(func() { Eventually(ft, 100*time.Millisecond, "never", func() bool { return false }) })
	if !ft.Failed() {
		t.Fatal("Eventually did not fail on a condition that never holds")
	}
}

func TestLoggerQuietUntilFailure(t *testing.T) {
	ft := &fakeT{}
	log := Logger(ft)
	log.Info("kept")
	ft.end()
	log.Info("after the end: dropped, no panic")
}

func TestStop(t *testing.T) {
	ft := &fakeT{}
	r := Start(ft, "component", func(ctx context.Context) error { <-ctx.Done(); return errors.New("sealed badly") })
	if err := r.Stop(); err == nil || err.Error() != "Run: sealed badly" {
		t.Fatalf("Stop = %v", err)
	}
	ft.end()
	if ft.Failed() {
		t.Fatal("the cleanup failed the test again after an explicit Stop")
	}
}

func TestRunningEventually(t *testing.T) {
	tests := []struct {
		name     string
		run      func(ctx context.Context) error
		cond     func() bool
		wantFail bool
	}{
		{"holds while running", func(ctx context.Context) error { <-ctx.Done(); return nil }, func() bool { return true }, false},
		{"Run returning first fails the test", func(context.Context) error { return errors.New("died") }, func() bool { return false }, true},
		{"never holding fails the test", func(ctx context.Context) error { <-ctx.Done(); return nil }, func() bool { return false }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeT{}
			ft.run(func() {
				r := Start(ft, "component", tc.run)
				r.Eventually(200*time.Millisecond, "the condition", tc.cond)
			})
			ft.end()
			if ft.Failed() != tc.wantFail {
				t.Fatalf("failed = %v, want %v", ft.Failed(), tc.wantFail)
			}
		})
	}
}

func TestRunningWait(t *testing.T) {
	ft := &fakeT{}
	r := Start(ft, "component", func(context.Context) error { return errors.New("end of stream went wrong") })
	if err := r.Wait(2 * time.Second); err == nil || err.Error() != "Run: end of stream went wrong" {
		t.Fatalf("Wait = %v", err)
	}
	ft.end()
	if ft.Failed() {
		t.Fatal("the cleanup failed the test again after Wait")
	}

	ft = &fakeT{}
	ft.run(func() {
		r := Start(ft, "component", func(ctx context.Context) error { <-ctx.Done(); return nil })
		r.Wait(50 * time.Millisecond)
	})
	ft.end()
	if !ft.Failed() {
		t.Fatal("Wait did not fail on a Run that never returned by itself")
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	var l LogBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			l.Write([]byte("x"))
		}
	}()
	for range 100 {
		_ = l.String()
	}
	<-done
	if got := len(l.String()); got != 100 {
		t.Fatalf("%d bytes, want 100", got)
	}
}

func TestWantFieldErr(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		field    string
		wantFail bool
	}{
		{"valid", nil, "", false},
		{"an error where none is wanted", errors.New("fps: too high"), "", true},
		{"the field named", errors.New("sim source \"a\": fps: too high"), "fps", false},
		{"another field named", errors.New("size: odd"), "fps", true},
		{"no error", nil, "fps", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeT{}
			ft.run(func() { WantFieldErr(ft, tc.err, tc.field) })
			if ft.Failed() != tc.wantFail {
				t.Fatalf("failed = %v, want %v", ft.Failed(), tc.wantFail)
			}
		})
	}
}
