package rtsptest

import (
	"strconv"
	"testing"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"go.uber.org/goleak"

	"diemcau/internal/proctest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCameraServesEveryPath: any path describes to the camera's stream.
func TestCameraServesEveryPath(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(proctest.FreePort(t))
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}}}}
	c, err := Start(&gortsplib.Server{RTSPAddress: addr}, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, path := range []string{"/stream", "/cam7"} {
		u, err := base.ParseURL("rtsp://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		cl := gortsplib.Client{}
		if err := cl.Start(u.Scheme, u.Host); err != nil {
			t.Fatal(err)
		}
		got, _, err := cl.Describe(u)
		cl.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(got.Medias) != 1 || got.Medias[0].Type != description.MediaTypeVideo {
			t.Fatalf("%s: medias %+v", path, got.Medias)
		}
	}
}
