package pipeline

// IDRule says in words what ValidID accepts, for error messages.
const IDRule = "1 to 64 of a-z, 0-9 and '-', not starting with '-'"

// ValidID reports whether s may be the id of a source, session or point.
// One rule for every layer: the API and the config accept an id only if
// the ingest, the mixer, the recorder (which names folders after it) and
// the viewer pages (which put it in paths) accept it too. A leading '-'
// is refused because a folder named "-x" reads as a flag to shell tools.
func ValidID(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
