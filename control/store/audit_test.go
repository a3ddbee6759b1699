package store

import (
	"fmt"
	"testing"
	"time"
)

func TestAuditPaging(t *testing.T) {
	ctx := testCtx(t)
	s := openTemp(t)
	if page, err := s.ListAudit(ctx, 0, 10); err != nil || len(page) != 0 || page == nil {
		t.Fatalf("empty log: %#v, %v", page, err)
	}
	const total = 25
	for i := 1; i <= total; i++ {
		a, err := s.AppendAudit(ctx, Audit{Actor: "op", Role: "operator", Method: "PUT", Path: fmt.Sprintf("/api/v1/sessions/s%d/layout", i), Target: fmt.Sprintf("s%d", i), Result: 200})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != int64(i) || a.At.IsZero() {
			t.Fatalf("append %d: %+v", i, a)
		}
	}
	for _, tc := range []struct {
		name   string
		before int64
		limit  int
		want   []int64 // first and last ID, and count
	}{
		{"newest page", 0, 10, []int64{25, 16, 10}},
		{"next page", 16, 10, []int64{15, 6, 10}},
		{"last short page", 6, 10, []int64{5, 1, 5}},
		{"past the end", 1, 10, nil},
		{"default limit takes all 25", 0, 0, []int64{25, 1, 25}},
		{"huge limit is capped but all fit", 0, 1 << 30, []int64{25, 1, 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListAudit(ctx, tc.before, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(page) != 0 {
					t.Errorf("got %d entries, want none", len(page))
				}
				return
			}
			if len(page) != int(tc.want[2]) || page[0].ID != tc.want[0] || page[len(page)-1].ID != tc.want[1] {
				t.Fatalf("page of %d from %d to %d, want %v", len(page), page[0].ID, page[len(page)-1].ID, tc.want)
			}
			for i := 1; i < len(page); i++ {
				if page[i].ID >= page[i-1].ID {
					t.Fatalf("not newest first at %d: %d then %d", i, page[i-1].ID, page[i].ID)
				}
			}
			if page[0].Target != fmt.Sprintf("s%d", page[0].ID) || page[0].Result != 200 || page[0].Role != "operator" {
				t.Errorf("entry %+v", page[0])
			}
		})
	}

	// Walking the pages visits every entry once.
	seen := 0
	for before := int64(0); ; {
		page, err := s.ListAudit(ctx, before, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen += len(page)
		before = page[len(page)-1].ID
	}
	if seen != total {
		t.Errorf("paging saw %d entries, want %d", seen, total)
	}

	at := time.Date(2025, 6, 3, 9, 0, 0, 123, time.FixedZone("ICT", 7*3600))
	a, err := s.AppendAudit(ctx, Audit{At: at, Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ListAudit(ctx, 0, 1)
	if err != nil || page[0].ID != a.ID || !page[0].At.Equal(at) {
		t.Errorf("given time: %+v, %v", page, err)
	}
}
