package mixer

import (
	"time"

	"diemcau/pipeline"
)

// A camera with a sub-stream (Point.Sub) sends the same picture twice: the
// main stream (e.g. 1280x720) and a small one (e.g. 640x360). Decoding is
// most of a composite's cost, so each point's tile decodes the sub-stream
// whenever the tile is no larger than the sub-stream's picture, and the
// main stream only for a tile that needs it (the focus of speaker, pip,
// single). A change of layout or focus that changes the choice switches at
// a keyframe of the new feed: the old one goes on feeding the tile until
// then, so the tile neither freezes nor goes blank. Both feeds run through
// the same decoding branch, whose decoder follows the new size in-band.

// The feeds of a point.
const (
	feedMain = 0
	feedSub  = 1
)

// feedStale: a feed with no picture for this long is not chosen, and the
// other one takes over if it is live (a sub-stream that dropped off, or a
// main stream that did while its sub-stream still comes).
const feedStale = time.Second

// feedSide is one of a point's feeds as its feeder reads it.
type feedSide struct {
	stream    *pipeline.Stream
	r         *pipeline.Reader
	pace      pacer
	video     *pipeline.Track // its latest picture's track: the picture size
	lastVideo time.Duration   // mix time of its latest picture; -1 none
}

func newFeedSide(s *pipeline.Stream, name string) *feedSide {
	return &feedSide{
		stream:    s,
		r:         s.NewReader(pipeline.ReaderConfig{Name: name, Queue: feedQueue, FromKeyframe: true}),
		lastVideo: -1,
	}
}

// live reports whether the feed sent a picture within feedStale of now.
func (s *feedSide) live(now time.Duration) bool {
	return s != nil && s.video != nil && s.lastVideo >= 0 && now-s.lastVideo < feedStale
}

// choose reports whether a picture of feed side goes into the mix, and
// switches feeds at a keyframe of the one the tile wants.
func (fd *feeder) choose(side int, key bool, now time.Duration) bool {
	want := fd.want(now)
	if side == fd.cur {
		return true
	}
	if side != want {
		return false
	}
	if !key {
		// Ask the camera for a keyframe rather than wait out its GOP
		// (rate-limited by the stream; most cameras cannot).
		fd.sides[side].stream.RequestKeyframe()
		return false
	}
	from := fd.cur
	fd.cur, fd.switched = side, from >= 0
	fd.m.feedInUse[fd.point].Store(int32(side))
	if from >= 0 {
		fd.m.feedSwitches[fd.point].Add(1)
		fd.m.log.Debug("point feed switched", "point", fd.id, "to", feedName(side))
	}
	return true
}

// want is the feed the point's tile should show now: the sub-stream when
// the tile fits in its picture, else the main stream; whichever is live
// when the other is not.
func (fd *feeder) want(now time.Duration) int {
	main, sub := fd.sides[feedMain], fd.sides[feedSub]
	subLive := sub.live(now)
	if subLive && fd.m.tileFits(fd.point, sub.video) {
		return feedSub
	}
	if main.live(now) || !subLive {
		return feedMain
	}
	return feedSub
}

func feedName(side int) string {
	switch side {
	case feedMain:
		return "main"
	case feedSub:
		return "sub"
	}
	return ""
}

// Tile sizes as the feeders read them: width<<32 | height<<1 | visible.
func packTile(w, h int, visible bool) uint64 {
	v := uint64(w)<<32 | uint64(h)<<1
	if visible {
		v |= 1
	}
	return v
}

// noteTiles records each slot's tile size for the feeders (owner, and New
// before any feeder runs).
func (m *Mixer) noteTiles(c controls) {
	o := m.cfg.Output
	for i, t := range Arrange(c.layout, len(c.order), c.focusIndex(), o.Width, o.Height) {
		m.tileSize[c.order[i]].Store(packTile(t.W, t.H, t.Visible))
	}
}

// tileFits reports whether point's tile is no larger than a picture of
// track's size; a hidden tile fits anything. A track of unknown size fits
// nothing.
func (m *Mixer) tileFits(point int, track *pipeline.Track) bool {
	v := m.tileSize[point].Load()
	if v&1 == 0 {
		return true
	}
	w, h := int(v>>32), int(v>>1&0x7fffffff)
	return track.Width > 0 && track.Height > 0 && w <= track.Width && h <= track.Height
}
