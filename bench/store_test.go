package bench

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"diemcau/control/store"
)

// BenchmarkAppendAudit measures one audit entry, written on every
// state-changing API call. "file" is the real setting (WAL, fsync on every
// commit), so it mostly times the disk; "memory" is the store's own CPU and
// allocation cost.
func BenchmarkAppendAudit(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"file", filepath.Join(b.TempDir(), "diemcau.db")},
		{"memory", ":memory:"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := store.Open(ctx, tc.path, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := store.Audit{Actor: "admin", Role: "admin", Method: "PUT", Path: "/api/v1/sessions/demo/layout", Target: "demo", Result: 200, Detail: `{"layout":"speaker","focus":"tinh"}`}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.AppendAudit(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListAudit measures one page of GET /api/v1/audit (100 entries).
func BenchmarkListAudit(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(b.TempDir(), "diemcau.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for range 1000 {
		if _, err := s.AppendAudit(ctx, store.Audit{Actor: "op", Role: "operator", Method: "POST", Path: "/api/v1/sessions/demo/start", Target: "demo", Result: 200}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		page, err := s.ListAudit(ctx, 0, 100)
		if err != nil || len(page) != 100 {
			b.Fatalf("page of %d, %v", len(page), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/entry")
}
