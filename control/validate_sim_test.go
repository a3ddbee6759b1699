package control

import (
	"testing"

	"diemcau/control/store"
)

// TestValidateSimSource: sim://NAME takes the avsync pattern as its one
// query, and anything else in a query is refused on the url field.
func TestValidateSimSource(t *testing.T) {
	tests := []struct {
		url   string
		field string // "" valid
	}{
		{"sim://tinh", ""},
		{"sim://tinh?pattern=avsync", ""},
		{"sim://tinh?pattern=smpte", "url"},
		{"sim://tinh?fps=60", "url"},
		{"sim://?pattern=avsync", "url"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			fe := ValidateSource(&store.Source{ID: "tinh", URL: tc.url})
			switch {
			case tc.field == "" && len(fe) > 0:
				t.Fatalf("refused: %+v", fe)
			case tc.field != "" && (len(fe) != 1 || fe[0].Field != tc.field):
				t.Fatalf("errors %+v, want one on %s", fe, tc.field)
			}
		})
	}
}
