package avsync

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ffmpeg decodes the picture to GridW×GridH grey (pipe 3) and the sound to
// 48 kHz mono s16 (stdout), and its showinfo/ashowinfo filters print each
// frame's PTS (and each audio frame's sample count) on stderr in the same
// order: the n-th line belongs to the n-th frame in the pipe. settb fixes
// the time bases, so the PTS are exact integers.
const (
	videoFilter = "settb=1/1000000,scale=32:18:flags=area,format=gray,showinfo"
	audioFilter = "aresample=48000,aformat=sample_fmts=s16:channel_layouts=mono,asettb=1/48000,ashowinfo"
	// interruptGrace is how long ffmpeg has to finish its outputs after
	// an interrupt before it is killed.
	interruptGrace = 5 * time.Second
)

var (
	showinfoLine  = regexp.MustCompile(`^\[Parsed_showinfo_\d+ @ [^\]]+\] n:\s*\d+ pts:\s*(-?\d+|NOPTS)`)
	ashowinfoLine = regexp.MustCompile(`^\[Parsed_ashowinfo_\d+ @ [^\]]+\] n:\s*\d+ pts:\s*(-?\d+|NOPTS) .*nb_samples:(\d+)`)
)

// frameInfo is one showinfo line: a PTS (ok false: none) and, for sound,
// the samples.
type frameInfo struct {
	pts     time.Duration
	ok      bool
	samples int
}

// decode runs ffmpeg on input for at most seconds of media (0: all of it)
// and collects the frames of the tracks d declares. deadline bounds the
// wall time: past it ffmpeg is interrupted and what came is kept (a track
// that never delivers must not hang the meter).
func decode(ctx context.Context, ffmpeg, input, kind string, d Declared, seconds float64, deadline time.Duration) (Capture, error) {
	c := Capture{Declared: d}
	if d.VideoCodec == "" && d.AudioCodec == "" {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	limit := []string{}
	if seconds > 0 {
		limit = []string{"-t", strconv.FormatFloat(seconds, 'f', 3, 64)}
	}
	args := append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"}, inputArgs(kind)...)
	args = append(args, "-i", input)
	vr, vw, err := os.Pipe()
	if err != nil {
		return c, err
	}
	defer vr.Close()
	if d.VideoCodec != "" {
		args = append(args, "-map", "0:v:0", "-vf", videoFilter, "-fps_mode", "passthrough", "-an", "-f", "rawvideo")
		args = append(append(args, limit...), "pipe:3")
	}
	if d.AudioCodec != "" {
		args = append(args, "-map", "0:a:0", "-af", audioFilter, "-vn", "-f", "s16le")
		args = append(append(args, limit...), "pipe:1")
	}
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	cmd.ExtraFiles = []*os.File{vw}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		vw.Close()
		return c, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		vw.Close()
		return c, err
	}
	if err := cmd.Start(); err != nil {
		vw.Close()
		return c, fmt.Errorf("%w: %s: %v", ErrOpen, ffmpeg, err)
	}
	vw.Close() // ffmpeg holds the write end now

	var wg sync.WaitGroup
	var luma [][]uint8
	var pcm []byte
	var vinfo, ainfo []frameInfo
	var tail []string
	wg.Go(func() { luma = readFrames(vr, GridW*GridH) })
	wg.Go(func() { pcm, _ = io.ReadAll(stdout) })
	wg.Go(func() { vinfo, ainfo, tail = readInfo(stderr) })
	wg.Wait()
	runErr := cmd.Wait()

	c.Pictures = pictures(vinfo, luma, d.FPS)
	c.Chunks = chunks(ainfo, pcm)
	if len(c.Pictures) == 0 && len(c.Chunks) == 0 {
		switch {
		case ctx.Err() != nil:
			return c, fmt.Errorf("%w: no frame within %v", ErrOpen, deadline)
		case runErr != nil:
			return c, fmt.Errorf("%w: %s", ErrOpen, strings.Join(tail, "; "))
		}
	}
	return c, nil
}

// readFrames reads fixed-size frames until the pipe closes.
func readFrames(r io.Reader, size int) [][]uint8 {
	var out [][]uint8
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		f := make([]uint8, size)
		if _, err := io.ReadFull(br, f); err != nil {
			return out
		}
		out = append(out, f)
	}
}

// readInfo parses ffmpeg's stderr: the showinfo and ashowinfo lines, and
// the last other lines (for an error message).
func readInfo(r io.Reader) (video, audio []frameInfo, tail []string) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if m := showinfoLine.FindStringSubmatch(line); m != nil {
			video = append(video, parsePTS(m[1], time.Microsecond))
		} else if m := ashowinfoLine.FindStringSubmatch(line); m != nil {
			fi := parsePTS(m[1], time.Second/AudioRate)
			fi.samples, _ = strconv.Atoi(m[2])
			audio = append(audio, fi)
		} else if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "[Parsed_") {
			tail = append(tail, l)
			if len(tail) > 4 {
				tail = tail[1:]
			}
		}
		if err != nil {
			return video, audio, tail
		}
	}
}

func parsePTS(s string, unit time.Duration) frameInfo {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return frameInfo{}
	}
	return frameInfo{pts: time.Duration(v) * unit, ok: true}
}

// pictures pairs the n-th showinfo line with the n-th frame; a frame
// without a PTS follows the previous one by a frame.
func pictures(info []frameInfo, luma [][]uint8, fps float64) []Picture {
	step := time.Second / 30
	if fps > 0 {
		step = time.Duration(float64(time.Second) / fps)
	}
	n := min(len(info), len(luma))
	out := make([]Picture, 0, n)
	for i := range n {
		pts := info[i].pts
		if !info[i].ok {
			if i == 0 {
				continue
			}
			pts = out[len(out)-1].PTS + step
		}
		out = append(out, Picture{PTS: pts, Luma: luma[i]})
	}
	return out
}

// chunks cuts the PCM into the frames ashowinfo listed.
func chunks(info []frameInfo, pcm []byte) []Chunk {
	out := make([]Chunk, 0, len(info))
	off := 0
	var next time.Duration
	for _, fi := range info {
		end := off + 2*fi.samples
		if end > len(pcm) {
			break
		}
		s := make([]int16, fi.samples)
		for i := range s {
			s[i] = int16(uint16(pcm[off+2*i]) | uint16(pcm[off+2*i+1])<<8)
		}
		pts := next
		if fi.ok {
			pts = fi.pts
		}
		out = append(out, Chunk{PTS: pts, Samples: s})
		next, off = pts+samplesDur(fi.samples), end
	}
	return out
}
