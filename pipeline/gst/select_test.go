package gst

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeRegistry says which elements exist and which fail their trial, and
// records the trials run.
type fakeRegistry struct {
	installed map[string]bool
	broken    map[string]bool // element name → its trial fails
	trials    []string
}

func newFake(installed []string, broken ...string) *fakeRegistry {
	f := &fakeRegistry{installed: map[string]bool{}, broken: map[string]bool{}}
	for _, e := range installed {
		f.installed[e] = true
	}
	for _, e := range broken {
		f.broken[e] = true
	}
	return f
}

func (f *fakeRegistry) HasElement(name string) bool { return f.installed[name] }

func (f *fakeRegistry) try(fragment string) error {
	for e := range f.installed {
		if strings.Contains(fragment, e+" ") || strings.HasSuffix(fragment, e) || strings.Contains(fragment, e+" !") {
			f.trials = append(f.trials, e)
			if f.broken[e] {
				return errors.New("device busy")
			}
			return nil
		}
	}
	return errors.New("fragment names no installed element")
}

func (f *fakeRegistry) TryEncode(_ context.Context, fragment string, _ EncoderParams) error {
	return f.try(fragment)
}

func (f *fakeRegistry) TryDecode(_ context.Context, fragment string) error { return f.try(fragment) }

var software = []string{"x264enc", "openh264enc", "avdec_h264"}

func TestSelectEncoder(t *testing.T) {
	tests := []struct {
		name      string
		installed []string
		broken    []string
		force     string
		want      string
		hardware  bool
		wantErr   string
	}{
		{name: "software only", installed: software, want: "x264enc"},
		{name: "nvidia present and working", installed: append([]string{"nvh264enc", "vah264enc"}, software...), want: "nvh264enc", hardware: true},
		{name: "nvidia present but failing trial falls to va", installed: append([]string{"nvh264enc", "vah264enc"}, software...), broken: []string{"nvh264enc"}, want: "vah264enc", hardware: true},
		{name: "all hardware failing gives x264", installed: append([]string{"nvh264enc", "vah264enc", "vaapih264enc", "qsvh264enc", "v4l2h264enc"}, software...), broken: []string{"nvh264enc", "vah264enc", "vaapih264enc", "qsvh264enc", "v4l2h264enc"}, want: "x264enc"},
		{name: "x264 missing gives openh264", installed: []string{"openh264enc"}, want: "openh264enc"},
		{name: "forced openh264 over x264", installed: software, force: "openh264", want: "openh264enc"},
		{name: "forced by element name", installed: software, force: "x264enc", want: "x264enc"},
		{name: "forced nvh264 missing is an error", installed: software, force: "nvh264", wantErr: `encoder "nvh264": nvh264enc is not installed`},
		{name: "forced va failing is an error, no silent fallback", installed: append([]string{"vah264enc"}, software...), broken: []string{"vah264enc"}, force: "va", wantErr: `encoder "va": vah264enc failed its trial: device busy`},
		{name: "unknown name", installed: software, force: "hevc", wantErr: `encoder "hevc": unknown; use one of auto | nvh264 | va | vaapi | qsv | v4l2 | x264 | openh264`},
		{name: "nothing works", installed: []string{"x264enc"}, broken: []string{"x264enc"}, wantErr: "no working H.264 codec (encoder): nvh264enc is not installed;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFake(tc.installed, tc.broken...)
			got, err := SelectEncoder(context.Background(), reg, tc.force, EncoderParams{Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2500}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Element != tc.want || got.Hardware != tc.hardware {
				t.Fatalf("got %s (hardware %v), want %s (hardware %v)", got.Element, got.Hardware, tc.want, tc.hardware)
			}
			if !strings.Contains(got.Fragment, got.Element) || !strings.HasSuffix(got.Fragment, h264Out) {
				t.Errorf("fragment %q", got.Fragment)
			}
		})
	}
}

func TestSelectDecoder(t *testing.T) {
	tests := []struct {
		name      string
		installed []string
		broken    []string
		force     string
		want      string
		wantErr   string
	}{
		{name: "software only", installed: software, want: "avdec_h264"},
		{name: "va working", installed: append([]string{"vah264dec"}, software...), want: "vah264dec"},
		{name: "vaapi failing falls to avdec", installed: append([]string{"vaapih264dec"}, software...), broken: []string{"vaapih264dec"}, want: "avdec_h264"},
		{name: "openh264dec only when forced", installed: []string{"openh264dec"}, wantErr: "no working H.264 codec (decoder)"},
		{name: "forced openh264", installed: []string{"openh264dec"}, force: "openh264", want: "openh264dec"},
		{name: "x264 means software", installed: software, force: "x264", want: "avdec_h264"},
		{name: "forced v4l2 missing", installed: software, force: "v4l2", wantErr: `decoder "v4l2": v4l2h264dec is not installed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFake(tc.installed, tc.broken...)
			got, err := SelectDecoder(context.Background(), reg, tc.force, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Element != tc.want {
				t.Fatalf("got %s, want %s", got.Element, tc.want)
			}
		})
	}
}

func TestNextEncoder(t *testing.T) {
	all := append([]string{"nvh264enc", "vah264enc", "vaapih264enc"}, software...)
	tests := []struct {
		name    string
		broken  []string
		failed  string
		want    string
		wantErr bool
	}{
		{name: "after nvidia comes va", failed: "nvh264enc", want: "vah264enc"},
		{name: "skips a candidate failing its trial", failed: "nvh264enc", broken: []string{"vah264enc"}, want: "vaapih264enc"},
		{name: "skips missing ones", failed: "vaapih264enc", want: "x264enc"},
		{name: "after x264 comes openh264", failed: "x264enc", want: "openh264enc"},
		{name: "nothing after the last", failed: "openh264enc", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFake(all, tc.broken...)
			got, err := NextEncoder(context.Background(), reg, Choice{Element: tc.failed}, EncoderParams{FPS: 30}, nil)
			if tc.wantErr {
				if !errors.Is(err, ErrNoCodec) {
					t.Fatalf("got %v / %v, want ErrNoCodec", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Element != tc.want {
				t.Fatalf("got %s, want %s", got.Element, tc.want)
			}
			for _, tried := range reg.trials {
				if tried == tc.failed {
					t.Errorf("the failed encoder %s was tried again", tc.failed)
				}
			}
		})
	}
	if _, err := NextDecoder(context.Background(), newFake(software), Choice{Element: "nvh264dec"}, nil); err != nil {
		t.Errorf("decoder fallback from nvh264dec: %v", err)
	}
}

func TestSelectStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := SelectEncoder(ctx, newFake(software), "auto", EncoderParams{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
