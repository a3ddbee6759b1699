package pipeline

// ParamSets are the track's parameter sets in decoding order (VPS for
// H.265, then SPS and PPS), the empty ones left out.
func (t *Track) ParamSets() [][]byte {
	out := make([][]byte, 0, 3)
	for _, p := range [][]byte{t.VPS, t.SPS, t.PPS} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}
