package main

import (
	"fmt"
	"net/url"
	"strings"
)

// SessionOutputConfig publishes a running session to a WHIP server:
// another diemcau (a point node's program to its hub) or an SFU that
// serves the viewers one server cannot.
type SessionOutputConfig struct {
	// WHIP is the endpoint, http(s)://host/….
	WHIP string `mapstructure:"whip"`
	// Token is sent as Bearer (the hub's invite or publish secret); it is
	// never logged.
	Token string `mapstructure:"token"`
	// Stream is what goes out: "composite" (default, the full mix) or
	// "points/ID" (the composite with point ID's mix-minus).
	Stream string `mapstructure:"stream"`
}

// HubConfig makes this server a point node of a provincial hub: it
// publishes its program to the point's source at the hub, plays the
// point's return feed as its source "hub" (shown on /display, re-served
// at rtsp://…/sources/hub, recorded with the program), and keeps doing
// both across link losses.
type HubConfig struct {
	// URL is the hub, https://host[:port].
	URL string `mapstructure:"url"`
	// Point is this node's point id at the hub (checked against the
	// invite, which names it).
	Point string `mapstructure:"point"`
	// Token is the point invite the hub issued.
	Token string `mapstructure:"token"`
	// Program is the local session whose composite goes to the hub;
	// default: the only session of the file.
	Program string `mapstructure:"program"`
}

// hubSourceID is the source a point node plays its return feed into.
const hubSourceID = "hub"

// applyHub adds a point node's return feed to its sources: a whep(s)://
// source with the invite as its password and no path, which plays what the
// invite is for (the point's return feed) wherever the hub says it is.
func (c *Config) applyHub() {
	src, ok := c.hubSource()
	if !ok {
		return
	}
	for _, s := range c.Sources {
		if s.ID == hubSourceID {
			return // applied already
		}
	}
	c.Sources = append(c.Sources, src)
}

// hubSource is the return feed's source of a point node.
func (c *Config) hubSource() (SourceConfig, bool) {
	if c.Hub.URL == "" {
		return SourceConfig{}, false
	}
	u, err := url.Parse(c.Hub.URL)
	if err != nil {
		return SourceConfig{}, false // refused by outputProblems
	}
	u.Scheme = map[string]string{"http": "whep", "https": "wheps"}[u.Scheme]
	u.User = url.UserPassword("", c.Hub.Token)
	u.Path = ""
	return SourceConfig{ID: hubSourceID, Name: "Tín hiệu trả về từ tỉnh", URL: u.String()}, true
}

// outputProblems checks sessions[].outputs and hub.
func (c *Config) outputProblems() []error {
	var errs []error
	for i, s := range c.Sessions {
		for j, o := range s.Outputs {
			key := fmt.Sprintf("sessions[%d].outputs[%d]", i, j)
			if u, err := url.Parse(o.WHIP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s.whip: want the WHIP endpoint, https://host/…", key))
			} else if u.User != nil {
				errs = append(errs, fmt.Errorf("%s.whip: put the credential in token, not in the URL", key))
			}
			if _, err := outputPoint(o.Stream, s); err != nil {
				errs = append(errs, fmt.Errorf("%s.stream: %w", key, err))
			}
		}
	}
	if c.Hub.URL == "" {
		if c.Hub.Point != "" || c.Hub.Token != "" || c.Hub.Program != "" {
			errs = append(errs, fmt.Errorf("hub.url: empty, but hub.point, hub.token or hub.program is set"))
		}
		return errs
	}
	if u, err := url.Parse(c.Hub.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs = append(errs, fmt.Errorf("hub.url: want the hub's address, https://host[:port] (the token goes in hub.token)"))
	}
	if c.Hub.Token == "" {
		errs = append(errs, fmt.Errorf("hub.token: the point invite the hub issued is needed"))
	}
	if _, err := c.hubProgram(); err != nil {
		errs = append(errs, err)
	}
	own, _ := c.hubSource()
	for i, s := range c.Sources {
		if s.ID == hubSourceID && s != own {
			errs = append(errs, fmt.Errorf("sources[%d].id: %q is the return feed of a point node (hub.url is set)", i, hubSourceID))
		}
	}
	return errs
}

// outputPoint reads an output's stream: "" for the composite, or the point
// whose return feed it is.
func outputPoint(stream string, s SessionConfig) (string, error) {
	switch {
	case stream == "" || stream == "composite":
		return "", nil
	case strings.HasPrefix(stream, "points/"):
		id := strings.TrimPrefix(stream, "points/")
		for _, p := range s.Points {
			if p.ID == id {
				return id, nil
			}
		}
		return "", fmt.Errorf("no point %q in session %q", id, s.ID)
	}
	return "", fmt.Errorf("%q: want composite or points/ID", stream)
}

// hubProgram is the session a point node sends to its hub.
func (c *Config) hubProgram() (string, error) {
	if c.Hub.Program != "" {
		for _, s := range c.Sessions {
			if s.ID == c.Hub.Program {
				return s.ID, nil
			}
		}
		return "", fmt.Errorf("hub.program: no session %q", c.Hub.Program)
	}
	if len(c.Sessions) != 1 {
		return "", fmt.Errorf("hub.program: name the session whose composite goes to the hub (the file has %d)", len(c.Sessions))
	}
	return c.Sessions[0].ID, nil
}
