package sessions

import (
	"slices"
	"testing"
	"time"
)

// TestSetPointsWhileRunning changes the points of a live session step by
// step and checks what the composite and the archive were asked to do.
func TestSetPointsWhileRunning(t *testing.T) {
	h := newHarness(t)
	if err := h.m.SetPoints("demo", spec().Points); err != nil {
		t.Fatalf("not running: %v", err)
	}
	if err := h.m.Start(spec(), StateLive); err != nil {
		t.Fatal(err)
	}
	next(t, h.states)
	deadline := time.Now().Add(5 * time.Second)
	for h.rec.run() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	run := h.rec.run()
	if run == nil {
		t.Fatal("the live run did not start recording")
	}
	tinh, xaA := Point{ID: "tinh", Source: "tinh"}, Point{ID: "xa-a", Source: "xa-a"}
	xaB := Point{ID: "xa-b", Source: "xa-b", Label: "Xã B"}
	steps := []struct {
		name    string
		room    int
		points  []Point
		wantErr bool
		mixer   []string
		archive []string
	}{
		{"a point joins", 0, []Point{tinh, xaA, xaB},
			false, []string{"+xa-b", "order tinh,xa-a,xa-b"}, []string{"+sources/xa-b"}},
		{"a point leaves, the order changes", 0, []Point{xaB, tinh},
			false, []string{"-xa-a", "order xa-b,tinh"}, []string{"-sources/xa-a"}},
		{"a point's label changes", 0, []Point{{ID: "xa-b", Source: "xa-b", Label: "Xã Bình"}, tinh},
			false, []string{"=xa-b", "order xa-b,tinh"}, nil},
		{"a point's source changes", 0, []Point{{ID: "xa-b", Source: "xa-b", Label: "Xã Bình"}, {ID: "tinh", Source: "xa-c"}},
			false, []string{"-tinh", "+tinh", "order xa-b,tinh"}, []string{"+sources/xa-c", "-sources/tinh"}},
		{"unknown source changes nothing", 0, []Point{{ID: "xa-z", Source: "nowhere"}},
			true, nil, nil},
		{"no points is refused", 0, nil, true, nil, nil},
		{"every point replaced in a full composite", 2, []Point{{ID: "a1", Source: "xa-a"}, {ID: "a2", Source: "tinh"}},
			false, []string{"-xa-b", "+a1", "-tinh", "+a2", "order a1,a2"},
			[]string{"+sources/xa-a", "+sources/tinh", "-sources/xa-b", "-sources/xa-c"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.mixer.mu.Lock()
			h.mixer.room = st.room
			h.mixer.mu.Unlock()
			err := h.m.SetPoints("demo", st.points)
			if (err != nil) != st.wantErr {
				t.Fatalf("SetPoints: %v, want error %v", err, st.wantErr)
			}
			if ops := h.mixer.takeOps(); !slices.Equal(ops, st.mixer) {
				t.Errorf("composite: %q, want %q", ops, st.mixer)
			}
			ops := run.takeOps()
			// Joins and leaves of the archive come from maps: order-free.
			slices.Sort(ops)
			want := slices.Clone(st.archive)
			slices.Sort(want)
			if !slices.Equal(ops, want) {
				t.Errorf("archive: %q, want %q", ops, want)
			}
		})
	}
	if err := h.m.Stop("demo"); err != nil {
		t.Fatal(err)
	}
}
