package pipeline

import "testing"

func TestKeyGate(t *testing.T) {
	tests := []struct {
		name string
		lose bool   // Lose before the frames
		keys []bool // the video frames' key flags, in order
		want []bool // whether each passes
	}{
		{"open: everything passes", false, []bool{false, true, false}, []bool{true, true, true}},
		{"after a loss: up to the keyframe", true, []bool{false, false, true, false}, []bool{false, false, true, true}},
		{"after a loss, a keyframe first", true, []bool{true, false}, []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g KeyGate
			if tc.lose {
				g.Lose()
			}
			for i, key := range tc.keys {
				if got := g.Pass(key); got != tc.want[i] {
					t.Fatalf("frame %d (key %v): pass %v, want %v", i, key, got, tc.want[i])
				}
			}
			if g.Waiting() {
				t.Fatal("still waiting after a keyframe")
			}
		})
	}
}
