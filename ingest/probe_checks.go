package ingest

import (
	"fmt"
	"strings"

	"diemcau/pipeline"
)

// Thresholds of a feed fit for a session. Below them the picture is still
// usable, so they warn rather than fail.
const (
	minGoodFPS         = 20
	minGoodBitrateKbps = 500
	maxGoodGOPSeconds  = 4 // a viewer or decoder waits up to one GOP for a picture
)

// report fills the measured figures, the checks and the verdict. dropped
// tells that the connection broke before the probe was over. Called with
// c.mu held.
func (c *probeCollector) report(rep *ProbeReport, dropped bool) {
	secs := c.end.Sub(c.start).Seconds()
	rep.Seconds = round1(secs)
	if c.audio != nil {
		rep.Audio = &AudioInfo{Codec: string(c.audio.Codec), SampleRate: c.audio.SampleRate, Channels: c.audio.Channels}
	}
	if c.video != nil {
		v := &ProbeVideo{
			Codec: string(c.video.Codec), Profile: c.video.Profile,
			Width: c.video.Width, Height: c.video.Height,
			BFrames: c.reordered, Keyframes: c.keys, Frames: c.vFrames,
		}
		// The span of presentation times: decode times of B-frame streams
		// are squeezed at the start.
		if span := (c.maxPTS - c.minPTS).Seconds(); c.vFrames > 1 && span > 0 {
			v.FPS = round1(float64(c.vFrames-1) / span)
		}
		if c.keys > 1 {
			v.GOPSeconds = round1((c.lastKey - c.firstKey).Seconds() / float64(c.keys-1))
		}
		if secs > 0 {
			v.BitrateKbps = round1(float64(c.vBytes) * 8 / 1000 / secs)
		}
		rep.Video = v
	}
	if secs > 0 {
		rep.BitrateKbps = round1(float64(c.vBytes+c.aBytes) * 8 / 1000 / secs)
	}

	var checks []ProbeCheck
	add := func(name string, r CheckResult, format string, args ...any) {
		checks = append(checks, ProbeCheck{Name: name, Result: r, Message: fmt.Sprintf(format, args...)})
	}
	if dropped {
		add("connection", CheckFail, "the feed broke off after %.1f s: %s", secs, rep.Error)
	} else {
		add("connection", CheckPass, "connected over %s", rep.Transport)
	}

	v := rep.Video
	switch {
	case v == nil:
		add("video", CheckFail, "no video track (audio only)")
	case v.Frames == 0:
		add("video", CheckFail, "no video frame in %.0f s (no keyframe came, or no data)", probeConnectBudget.Seconds())
	default:
		add("video", CheckPass, "%dx%d, %d frames in %.1f s", v.Width, v.Height, v.Frames, secs)
		c.videoChecks(v, secs, add)
	}

	switch {
	case rep.Audio == nil:
		add("audio", CheckWarn, "no audio track: the point will be heard only if its sound comes another way")
	case rep.Audio.Codec == string(pipeline.AAC):
		add("audio", CheckWarn, "AAC audio: browsers play only Opus or G.711 over WebRTC, so single-feed viewers hear nothing (the composite is transcoded); set the camera to G.711 or Opus if it can")
	default:
		add("audio", CheckPass, "%s %d Hz", rep.Audio.Codec, rep.Audio.SampleRate)
	}

	if v != nil && v.Frames > 0 {
		rep.Clock = c.clock.result(c.relayed)
		c.clock.checks(rep.Clock, c.relayed, add)
	}

	if rep.PacketsLost > 0 {
		add("packet-loss", CheckWarn, "%d RTP packets lost: check the network, or use --transport tcp", rep.PacketsLost)
	} else {
		add("packet-loss", CheckPass, "no packet lost")
	}

	rep.BrowserPlayable = v != nil && v.Frames > 0 && v.Codec == string(pipeline.H264) && !v.BFrames &&
		(rep.Audio == nil || rep.Audio.Codec != string(pipeline.AAC))
	rep.Checks = checks
	rep.Verdict = verdict(checks)
}

func (c *probeCollector) videoChecks(v *ProbeVideo, secs float64, add func(string, CheckResult, string, ...any)) {
	if v.Codec == string(pipeline.H265) {
		add("codec", CheckWarn, "H.265: browsers cannot play it, so single-feed viewers need transcoding; set the camera to H.264 if it can")
	} else {
		add("codec", CheckPass, "%s %s", strings.ToUpper(strings.Replace(v.Codec, "h26", "H.26", 1)), v.Profile)
	}
	if v.BFrames {
		add("bframes", CheckWarn, "B-frames: WebRTC players stutter or fail on them; turn them off in the camera (often called B-frames, smart codec or H.264+)")
	} else {
		add("bframes", CheckPass, "no B-frames")
	}
	switch {
	case v.FPS < minGoodFPS:
		add("fps", CheckWarn, "%.1f fps, under %d: motion looks jerky", v.FPS, minGoodFPS)
	default:
		add("fps", CheckPass, "%.1f fps", v.FPS)
	}
	switch {
	case v.BitrateKbps < minGoodBitrateKbps:
		add("bitrate", CheckWarn, "%.0f kbps, under %d: the picture will be soft", v.BitrateKbps, minGoodBitrateKbps)
	default:
		add("bitrate", CheckPass, "%.0f kbps", v.BitrateKbps)
	}
	switch {
	case v.GOPSeconds > maxGoodGOPSeconds:
		add("gop", CheckWarn, "a keyframe every %.1f s, over %d s: viewers wait that long for a picture; set the I-frame interval to 1-2 s", v.GOPSeconds, maxGoodGOPSeconds)
	case v.Keyframes < 2 && secs > maxGoodGOPSeconds:
		add("gop", CheckWarn, "one keyframe in %.1f s: the GOP is longer than that; set the I-frame interval to 1-2 s", secs)
	case v.Keyframes < 2:
		add("gop", CheckPass, "not measured: read longer than %d s (--seconds) to see two keyframes", maxGoodGOPSeconds)
	default:
		add("gop", CheckPass, "a keyframe every %.1f s", v.GOPSeconds)
	}
}

func verdict(checks []ProbeCheck) CheckResult {
	v := CheckPass
	for _, c := range checks {
		switch {
		case c.Result == CheckFail:
			return CheckFail
		case c.Result == CheckWarn:
			v = CheckWarn
		}
	}
	return v
}
