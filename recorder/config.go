package recorder

import (
	"errors"
	"time"

	"diemcau/internal/fielderr"
)

// Defaults of the archive.* keys (docs/configuration.md), and of the
// settings that are not keys.
const (
	DefaultSegment    = 5 * time.Minute
	DefaultPart       = time.Second
	DefaultGapTimeout = 2 * time.Second
	DefaultSweepEvery = time.Minute
)

// Config is the archive.* section of the config file. The zero value of a
// duration means its default.
type Config struct {
	// Root is the archive folder (archive.root), created if missing.
	Root string
	// Segment is the length of one MP4 file (archive.segment, default 5m);
	// a file is cut at the first keyframe after it.
	Segment time.Duration
	// Part is the length of one fragment, written (and fsynced when Fsync is
	// on) as one piece (archive.part, default 1s). A crash loses at most the
	// part being gathered.
	Part time.Duration
	// Fsync syncs every fragment and manifest line to disk (archive.fsync,
	// default true in docs/configuration.md; set it from the config).
	Fsync bool
	// Retention deletes whole runs whose last write is older than this
	// (archive.retention); 0 keeps forever. A live run is never deleted.
	Retention time.Duration
	// MinFree is the free space, in bytes, below which new recording stops
	// (archive.min_free); 0 stops only on a full disk.
	MinFree int64
	// SigningKey is an ed25519 private key file (archive.signing_key: PEM
	// PKCS#8 as written by `openssl genpkey -algorithm ed25519`, or the
	// 32-byte seed in hex or base64). Set, run seals are signed.
	SigningKey string

	// GapTimeout is how long a stream may deliver no frame before its
	// segment is closed and a gap recorded (default 2s).
	GapTimeout time.Duration
	// SweepEvery is how often retention runs (default 1m).
	SweepEvery time.Duration
}

// DefaultConfig is the archive section's defaults (docs/configuration.md).
func DefaultConfig() Config {
	return Config{
		Root:       "./archive",
		Segment:    DefaultSegment,
		Part:       DefaultPart,
		Fsync:      true,
		MinFree:    2 << 30,
		GapTimeout: DefaultGapTimeout,
		SweepEvery: DefaultSweepEvery,
	}
}

// withDefaults fills the zero durations.
func (c Config) withDefaults() Config {
	if c.Segment == 0 {
		c.Segment = DefaultSegment
	}
	if c.Part == 0 {
		c.Part = DefaultPart
	}
	if c.GapTimeout == 0 {
		c.GapTimeout = DefaultGapTimeout
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = DefaultSweepEvery
	}
	return c
}

// Validate reports every bad field, each naming its config key.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fielderr.New(key, format, args...))
	}
	if c.Root == "" {
		bad("root", "required")
	}
	if c.Segment < time.Second {
		bad("segment", "%v is shorter than 1s", c.Segment)
	}
	if c.Part < 100*time.Millisecond {
		bad("part", "%v is shorter than 100ms", c.Part)
	} else if c.Part > c.Segment {
		bad("part", "%v is longer than segment (%v)", c.Part, c.Segment)
	}
	if c.Retention < 0 {
		bad("retention", "%v is negative", c.Retention)
	} else if c.Retention > 0 && c.Retention < time.Minute {
		bad("retention", "%v is shorter than 1m (0 keeps forever)", c.Retention)
	}
	if c.MinFree < 0 {
		bad("min_free", "%d is negative", c.MinFree)
	}
	if c.GapTimeout < 0 {
		bad("gap_timeout", "%v is negative", c.GapTimeout)
	}
	if c.SweepEvery < 0 {
		bad("sweep_every", "%v is negative", c.SweepEvery)
	}
	return errors.Join(errs...)
}

// Option changes how a Recorder reaches the outside world; for tests.
type Option func(*Recorder)

// FreeSpaceFunc reports the bytes free to this process on the filesystem
// holding path.
type FreeSpaceFunc func(path string) (int64, error)

// WithFreeSpace replaces the statfs-based free space check.
func WithFreeSpace(fn FreeSpaceFunc) Option {
	return func(r *Recorder) { r.freeSpace = fn }
}

// WithClock replaces time.Now for run folder names, manifest times and
// retention; for tests.
func WithClock(now func() time.Time) Option {
	return func(r *Recorder) { r.now = now }
}
