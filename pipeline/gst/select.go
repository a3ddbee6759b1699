package gst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Registry is what codec selection asks of the machine. RealRegistry asks
// GStreamer; tests inject a fake.
type Registry interface {
	// HasElement reports whether the element factory is installed.
	HasElement(name string) bool
	// TryEncode runs a few test frames through an encoder fragment and
	// fails unless encoded frames come out.
	TryEncode(ctx context.Context, fragment string, p EncoderParams) error
	// TryDecode runs a few encoded test frames through a decoder fragment
	// and fails unless pictures come out.
	TryDecode(ctx context.Context, fragment string) error
}

// Choice is the codec selection's answer. The caller keeps it: nothing is
// cached globally.
type Choice struct {
	Name     string // config name, e.g. "x264"
	Element  string // GStreamer factory, e.g. "x264enc"
	Hardware bool
	// Fragment is the launch fragment to use (raw video in, H.264 out for an
	// encoder; parsed H.264 in, raw video out for a decoder).
	Fragment string
}

// ErrNoCodec is wrapped when no candidate works.
var ErrNoCodec = errors.New("no working H.264 codec")

// SelectEncoder picks the H.264 encoder: force is a config name (auto, "",
// x264, openh264, nvh264, va, vaapi, qsv, v4l2) and the pick must pass a
// trial encode. A forced choice that is missing or fails is an error, not a
// silent fallback.
func SelectEncoder(ctx context.Context, reg Registry, force string, p EncoderParams, log *slog.Logger) (Choice, error) {
	return selectCodec(ctx, reg, kindEncoder, force, p, log)
}

// SelectDecoder picks the H.264 decoder; force as for SelectEncoder, with
// avdec (or x264, software) meaning avdec_h264.
func SelectDecoder(ctx context.Context, reg Registry, force string, log *slog.Logger) (Choice, error) {
	return selectCodec(ctx, reg, kindDecoder, force, EncoderParams{}, log)
}

// NextEncoder is the runtime fallback: after failed stopped working, it
// returns the next candidate in preference order that passes its trial, so a
// session survives a hardware encoder's failure.
func NextEncoder(ctx context.Context, reg Registry, failed Choice, p EncoderParams, log *slog.Logger) (Choice, error) {
	return nextCodec(ctx, reg, kindEncoder, failed, p, log)
}

// NextDecoder is NextEncoder for decoders.
func NextDecoder(ctx context.Context, reg Registry, failed Choice, log *slog.Logger) (Choice, error) {
	return nextCodec(ctx, reg, kindDecoder, failed, EncoderParams{}, log)
}

type codecKind int

const (
	kindEncoder codecKind = iota
	kindDecoder
)

func (k codecKind) String() string {
	if k == kindDecoder {
		return "decoder"
	}
	return "encoder"
}

func (k codecKind) candidates() []Candidate {
	if k == kindDecoder {
		return Decoders()
	}
	return Encoders()
}

func selectCodec(ctx context.Context, reg Registry, k codecKind, force string, p EncoderParams, log *slog.Logger) (Choice, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	list := k.candidates()
	name := strings.ToLower(strings.TrimSpace(force))
	if name == "" || name == "auto" {
		return firstWorking(ctx, reg, k, list, p, log)
	}
	c, ok := lookupForced(list, name, k == kindDecoder)
	if !ok {
		return Choice{}, fmt.Errorf("%s %q: unknown; use one of %s", k, force, names(list))
	}
	if err := trial(ctx, reg, k, c, p); err != nil {
		return Choice{}, fmt.Errorf("%s %q: %w", k, force, err)
	}
	ch := choiceOf(k, c, p)
	log.Info("codec chosen", "kind", k.String(), "element", ch.Element, "hardware", ch.Hardware, "forced", true)
	return ch, nil
}

func nextCodec(ctx context.Context, reg Registry, k codecKind, failed Choice, p EncoderParams, log *slog.Logger) (Choice, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	list := k.candidates()
	at := -1
	for i, c := range list {
		if c.Element == failed.Element {
			at = i
			break
		}
	}
	if at < 0 {
		return Choice{}, fmt.Errorf("%s fallback: %q is not a known candidate", k, failed.Element)
	}
	log.Warn("codec failed; trying the next", "kind", k.String(), "failed", failed.Element)
	return firstWorking(ctx, reg, k, list[at+1:], p, log)
}

// firstWorking tries the auto candidates of list in order.
func firstWorking(ctx context.Context, reg Registry, k codecKind, list []Candidate, p EncoderParams, log *slog.Logger) (Choice, error) {
	var reasons []string
	for _, c := range list {
		if !c.Auto {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Choice{}, fmt.Errorf("%s selection: %w", k, err)
		}
		if err := trial(ctx, reg, k, c, p); err != nil {
			log.Debug("codec candidate rejected", "kind", k.String(), "element", c.Element, "reason", err)
			reasons = append(reasons, err.Error())
			continue
		}
		ch := choiceOf(k, c, p)
		log.Info("codec chosen", "kind", k.String(), "element", ch.Element, "hardware", ch.Hardware)
		return ch, nil
	}
	if len(reasons) == 0 {
		return Choice{}, fmt.Errorf("%w: no %s candidates left", ErrNoCodec, k)
	}
	return Choice{}, fmt.Errorf("%w (%s): %s", ErrNoCodec, k, strings.Join(reasons, "; "))
}

func trial(ctx context.Context, reg Registry, k codecKind, c Candidate, p EncoderParams) error {
	if !reg.HasElement(c.Element) {
		return fmt.Errorf("%s is not installed", c.Element)
	}
	var err error
	if k == kindDecoder {
		err = reg.TryDecode(ctx, c.DecoderFragment())
	} else {
		err = reg.TryEncode(ctx, c.EncoderFragment(p), p)
	}
	if err != nil {
		return fmt.Errorf("%s failed its trial: %w", c.Element, err)
	}
	return nil
}

func choiceOf(k codecKind, c Candidate, p EncoderParams) Choice {
	ch := Choice{Name: c.Name, Element: c.Element, Hardware: c.Hardware}
	if k == kindDecoder {
		ch.Fragment = c.DecoderFragment()
	} else {
		ch.Fragment = c.EncoderFragment(p)
	}
	return ch
}
