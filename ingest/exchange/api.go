package exchange

import (
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// NewAPI is a client's pion API as a browser would be: pion's default
// codecs and interceptors (a lost packet asked for again with a NACK,
// receiver reports, TWCC; sender reports still reach ReadRTCP), with the
// caller's settings (which interfaces, which logger).
func NewAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}
