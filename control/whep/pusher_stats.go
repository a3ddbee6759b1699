package whep

// Link is what the pusher measures of its path to the WHIP server, this
// connection (zero before the first).
func (p *Pusher) Link() LinkStats { return p.link.Stats() }
