package testkit

import (
	"strings"
	"testing"
)

// WantFieldErr checks a config's error: none where field is empty, else
// one that names field (as "field: …", the YAML key an operator fixes).
func WantFieldErr(t testing.TB, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("%v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), field+":") {
		t.Fatalf("got %v, want an error naming %s", err, field)
	}
}
