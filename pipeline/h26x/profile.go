package h26x

import "fmt"

// H264ProfileName names an H.264 profile as SDP and browser tools do, from
// the SPS's profile_idc and constraint-flags bytes (sps[1] and sps[2] of the
// NAL unit, or the first two bytes of a profile-level-id). Constrained
// baseline matters: it is what every browser decodes.
func H264ProfileName(idc, constraints byte) string {
	switch idc {
	case 66:
		if constraints&0x40 != 0 { // constraint_set1
			return "constrained-baseline"
		}
		return "baseline"
	case 77:
		return "main"
	case 88:
		return "extended"
	case 100:
		if constraints&0x0c == 0x0c { // constraint_set4 and 5
			return "constrained-high"
		}
		return "high"
	case 110:
		return "high-10"
	case 122:
		return "high-4:2:2"
	case 244:
		return "high-4:4:4"
	}
	return fmt.Sprintf("profile-%d", idc)
}

// H264Profile names the profile of an SPS NAL unit; "" when too short.
func H264Profile(sps []byte) string {
	if len(sps) < 3 {
		return ""
	}
	return H264ProfileName(sps[1], sps[2])
}

// H265ProfileName names an H.265 profile from general_profile_idc.
func H265ProfileName(idc uint8) string {
	switch idc {
	case 1:
		return "main"
	case 2:
		return "main-10"
	case 3:
		return "main-still-picture"
	case 4:
		return "rext"
	}
	return fmt.Sprintf("profile-%d", idc)
}
