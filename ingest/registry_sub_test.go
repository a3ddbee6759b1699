package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestRegistrySubStream pulls a camera's main and sub-stream from two real
// RTSP servers: each lands on its own feed, the sub-stream's status shows
// under sub, and a new sub_url restarts the sub-stream only (the main
// source, which the archive reads, keeps running).
func TestRegistrySubStream(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	main := startTestCamera(t, clip, cameraOpts{tcpOnly: true})
	sub := startTestCamera(t, clip, cameraOpts{user: "cam", pass: "s3cret", tcpOnly: true})
	reg := NewRegistry(testkit.Logger(t), nil, nil)
	src, err := reg.Add(SourceConfig{ID: "tinh", URL: main.URL("", ""), SubURL: sub.URL("cam", "s3cret"), Transport: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "registry", reg.Run)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mainStream, _ := reg.Stream("tinh")
	subStream, ok := reg.SubStream("tinh")
	if !ok || subStream == mainStream {
		t.Fatalf("SubStream = %v, %v: want a feed of its own", subStream, ok)
	}
	for name, s := range map[string]*pipeline.Stream{"main": mainStream, "sub": subStream} {
		r := s.NewReader(pipeline.ReaderConfig{Name: "test"})
		f, err := r.Read(ctx)
		r.Close()
		if err != nil || f.Track == nil {
			t.Fatalf("%s feed: %v", name, err)
		}
	}
	testkit.WaitFor(t, ctx, "both streams online in the status", func() bool {
		st, _ := reg.Status("tinh")
		return st.State == StateOnline && st.Sub != nil && st.Sub.State == StateOnline && st.Sub.Frames > 0
	})
	st, _ := reg.Status("tinh")
	if strings.Contains(st.Sub.URL, "s3cret") || !strings.Contains(st.Sub.URL, "***") {
		t.Errorf("sub url in the status: %q, want its password masked", st.Sub.URL)
	}
	if list := reg.List(); len(list) != 1 || list[0].Sub == nil {
		t.Errorf("List = %+v, want the sub-stream under sub", list)
	}

	// Dropping the sub_url stops the sub-stream only.
	frames := st.Frames
	same, err := reg.Update(SourceConfig{ID: "tinh", URL: main.URL("", ""), Transport: "tcp"})
	if err != nil || same != src {
		t.Fatalf("Update without sub_url: %v, %v; want the main source kept", same, err)
	}
	st, _ = reg.Status("tinh")
	if st.Sub != nil {
		t.Errorf("status after the sub_url went: sub = %+v", st.Sub)
	}
	testkit.WaitFor(t, ctx, "the main stream going on", func() bool {
		st, _ := reg.Status("tinh")
		return st.Frames > frames+10 && st.Reconnects == 0
	})

	// A sub_url of a scheme that is not pulled is refused, naming the key.
	if _, err := reg.Update(SourceConfig{ID: "tinh", URL: main.URL("", ""), SubURL: "push://a:b@", Transport: "tcp"}); err == nil || !strings.Contains(err.Error(), "sub_url") {
		t.Errorf("push:// sub_url: %v, want an error naming sub_url", err)
	}
	if _, err := reg.Add(SourceConfig{ID: "xa", URL: "sim://xa", SubURL: "srt://:longpassphrase@"}); err == nil || !strings.Contains(err.Error(), "sub_url") {
		t.Errorf("srt:// sub_url: %v, want an error naming sub_url", err)
	}
}
