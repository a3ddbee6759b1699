package main

import (
	"errors"
	"strings"
	"testing"
)

// TestConfigWHIPSource: a whip:// source takes the sha256 of its publish
// secret; a bad hash, a hash on another kind or a URL with more than the
// scheme is refused naming the key.
func TestConfigWHIPSource(t *testing.T) {
	hash := sha256Hex("a publish secret")
	whip := func(entry string) string {
		return strings.Replace(validConfig, `{id: xa-a, url: "push://enc:secret@"}`, entry, 1)
	}
	cfg, err := loadConfig(writeConfig(t, whip(`{id: xa-a, url: "whip://", publish_sha256: "`+hash+`"}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources[1].toStore(); got.PublishSHA256 != hash || got.Kind() != "whip" {
		t.Fatalf("source %+v", got)
	}
	if _, err := loadConfig(writeConfig(t, whip(`{id: xa-a, url: "whip://"}`)), nil); err != nil {
		t.Fatalf("whip:// without a secret (point invites only): %v", err)
	}
	for _, tc := range []struct{ name, entry, want string }{
		{"hash not hex", `{id: xa-a, url: "whip://", publish_sha256: "abc"}`, "sources[1].publish_sha256: want the 64 hex digits"},
		{"hash on a push source", `{id: xa-a, url: "push://enc:secret@", publish_sha256: "` + hash + `"}`, "sources[1].publish_sha256: only whip:// sources"},
		{"secret in the url", `{id: xa-a, url: "whip://user:pw@host"}`, "sources[1].url: write just whip://"},
		{"allow_anonymous", `{id: xa-a, url: "whip://", allow_anonymous: true}`, "sources[1].allow_anonymous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, whip(tc.entry)), nil)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Fatalf("the message shows the URL's password: %v", err)
			}
		})
	}
}
