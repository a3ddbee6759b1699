// Command lkread is LiveKit's side of diemcau's interop test: it makes
// access tokens with LiveKit's own library, and it joins a LiveKit room as
// a viewer with LiveKit's Go client (server-sdk-go), records the H.264 and
// Opus it receives, and writes them to an MP4 on the sender reports' clock
// for a real decoder (ffmpeg, diemcau's lip-sync meter) to judge.
//
//	lkread token -key K -secret S -room R -identity I [-publish]
//	lkread read -url ws://127.0.0.1:7880 -key K -secret S -room R -out f.mp4 [-seconds 6]
//
// read prints one JSON line: the tracks received, with their packets,
// sender reports and the participant that published them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/livekit/protocol/auth"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "token":
		err = tokenCmd(os.Args[2:])
	case "read":
		err = readCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lkread:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: lkread token|read [flags] (lkread token -h, lkread read -h)")
	os.Exit(2)
}

// keyFlags are the API key and secret that sign a token.
type keyFlags struct{ key, secret, room, identity string }

func (k *keyFlags) register(fs *flag.FlagSet, identity string) {
	fs.StringVar(&k.key, "key", "", "API key (LiveKit's keys: map)")
	fs.StringVar(&k.secret, "secret", "", "its secret")
	fs.StringVar(&k.room, "room", "", "room name")
	fs.StringVar(&k.identity, "identity", identity, "participant identity")
}

func (k *keyFlags) token(publish bool, valid time.Duration) (string, error) {
	if k.key == "" || k.secret == "" || k.room == "" || k.identity == "" {
		return "", errors.New("-key, -secret, -room and -identity are needed")
	}
	grant := &auth.VideoGrant{RoomJoin: true, Room: k.room}
	grant.SetCanPublish(publish)
	grant.SetCanPublishData(false)
	grant.SetCanSubscribe(!publish)
	return auth.NewAccessToken(k.key, k.secret).SetVideoGrant(grant).SetIdentity(k.identity).SetValidFor(valid).ToJWT()
}

// tokenCmd prints a join token: a publisher's (for a WHIP client, which
// sends it as Bearer) or a viewer's.
func tokenCmd(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	var k keyFlags
	k.register(fs, "")
	publish := fs.Bool("publish", false, "may publish (a WHIP client's token); otherwise subscribe only")
	valid := fs.Duration("valid", 24*time.Hour, "validity")
	_ = fs.Parse(args)
	tok, err := k.token(*publish, *valid)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func readCmd(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	var k keyFlags
	k.register(fs, "lkread")
	url := fs.String("url", "", "LiveKit server, ws://host:port")
	out := fs.String("out", "", "MP4 file to write")
	seconds := fs.Float64("seconds", 6, "seconds recorded from the first media packet (the picture starts at its first keyframe)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up when no media came by then")
	_ = fs.Parse(args)
	if *url == "" || *out == "" {
		return errors.New("-url and -out are needed")
	}
	tok, err := k.token(false, time.Hour)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	sum, err := read(ctx, *url, tok, time.Duration(*seconds*float64(time.Second)), *out)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(sum)
}
