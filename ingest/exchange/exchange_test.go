package exchange

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPost(t *testing.T) {
	var deleted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			if r.Header.Get("Authorization") == "Bearer tok" {
				deleted.Add(1)
			}
			return
		}
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("Content-Type") != "application/sdp" || r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, "bad request", 400)
				return
			}
			w.Header().Set("Location", "/resources/1")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("v=0 answer"))
		case "/refused":
			http.Error(w, "the token is not valid here\nmore detail", http.StatusForbidden)
		case "/no-location":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("v=0"))
		case "/empty":
			w.Header().Set("Location", "/resources/2")
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path, wantErr string
	}{
		{"/ok", ""},
		{"/refused", "403 Forbidden: the token is not valid here"},
		{"/no-location", "201 without Location"},
		{"/empty", "empty answer"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			answer, resource, err := Post(context.Background(), srv.Client(), srv.URL+tc.path, "tok", "v=0 offer")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "more detail") {
					t.Fatalf("err %v, want %q (first line only)", err, tc.wantErr)
				}
				return
			}
			if err != nil || answer != "v=0 answer" || resource != srv.URL+"/resources/1" {
				t.Fatalf("answer %q resource %q err %v", answer, resource, err)
			}
			Delete(srv.Client(), resource, "tok")
			if deleted.Load() != 1 {
				t.Fatal("the resource was not deleted with the token")
			}
		})
	}
	if _, _, err := Post(context.Background(), srv.Client(), "http://127.0.0.1:1/x?secret=1", "tok", "v=0"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("a refused connection: %v (the URL must not be in it)", err)
	}
}
