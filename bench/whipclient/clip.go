package whipclient

import "diemcau/internal/testclip"

// EncodeClip makes a clip with ffmpeg, as a browser's encoder would send
// it: H.264 constrained baseline without B-frames, a keyframe every two
// seconds, the parameter sets out of band, and 20 ms stereo Opus packets
// of a tone.
func EncodeClip(dir string, width, height, fps, kbps, seconds int) (*Clip, error) {
	c, err := testclip.Encode(dir, testclip.Spec{
		Width: width, Height: height, FPS: fps, Seconds: seconds, GOP: 2 * fps,
		Baseline: true, Kbps: kbps, Rate: testclip.Capped,
		Audio: testclip.Opus, Stereo: true, ToneHz: 660,
	})
	if err != nil {
		return nil, err
	}
	return &Clip{AUs: c.OutOfBand(), Keys: c.Keys, SPS: c.SPS, PPS: c.PPS, FPS: fps, Opus: c.Packets}, nil
}
