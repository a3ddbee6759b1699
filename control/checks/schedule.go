package checks

import (
	"context"
	"time"

	"diemcau/control/store"
)

// Run is the scheduler: it runs each session's automatic checks once their
// lead time before scheduled_at has come, and returns when ctx ends and
// every check it started has finished.
func (c *Checker) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Every)
	defer t.Stop()
	for {
		c.runDue(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runDue runs the checks that are due at now, one after another (they
// probe the same cameras; doing them at once would only add load).
func (c *Checker) runDue(ctx context.Context, now time.Time) {
	list, err := c.deps.Store.ListSessions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("scheduler: listing sessions", "err", err)
		}
		return
	}
	for _, sess := range list {
		if sess.ScheduledAt == nil || sess.State == store.StateEnded || now.After(*sess.ScheduledAt) {
			continue
		}
		for kind, lead := range c.cfg.Leads {
			due := sess.ScheduledAt.Add(-lead)
			if now.Before(due) {
				continue
			}
			done, err := c.deps.Store.HasCheck(ctx, sess.ID, kind, due)
			if err != nil || done {
				continue
			}
			if _, err := c.Check(ctx, sess.ID, kind); err != nil && ctx.Err() == nil {
				c.log.Error("scheduled check failed", "session", sess.ID, "kind", kind, "err", err)
			}
		}
	}
}
