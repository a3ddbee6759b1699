package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// RunWitness is the store's record of an archive run's manifest as last
// written: how many lines, the sha256 (hex) of the last one, and whether it
// was the seal. Run is "{session}/{stamp}".
type RunWitness struct {
	Run       string     `json:"run"`
	Lines     int        `json:"lines"`
	LastHash  string     `json:"last_hash"`
	Sealed    bool       `json:"sealed"`
	UpdatedAt time.Time  `json:"updated_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"` // retention deleted the run
}

var (
	runIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*/[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)
	hashRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// WitnessManifest records a run's manifest after a line was written. A
// record only moves forward: fewer lines than recorded, or any change to a
// sealed record, is refused with ErrConflict, except a first line (lines
// 1), which starts the record of a new run of that name afresh.
func (s *Store) WitnessManifest(ctx context.Context, run string, lines int, lastHash string, sealed bool) error {
	if !runIDRE.MatchString(run) || lines < 1 || !hashRE.MatchString(lastHash) || (sealed && lines < 2) {
		return fmt.Errorf("run witness %q: %d lines, hash %q: %w", run, lines, lastHash, ErrInvalid)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var had int
		var wasSealed bool
		err := tx.QueryRowContext(ctx, `SELECT lines, sealed FROM run_witness WHERE run = ?`, run).Scan(&had, &wasSealed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("run witness %q: %w", run, err)
		case lines == 1:
		case lines < had || wasSealed:
			return fmt.Errorf("run witness %q: %d lines after %d (sealed %v): %w", run, lines, had, wasSealed, ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_witness (run, lines, last_hash, sealed, updated_at, removed_at)
			VALUES (?, ?, ?, ?, ?, NULL)
			ON CONFLICT (run) DO UPDATE SET lines = excluded.lines, last_hash = excluded.last_hash,
				sealed = excluded.sealed, updated_at = excluded.updated_at, removed_at = NULL`,
			run, lines, lastHash, sealed, formatTime(s.stamp()))
		if err != nil {
			return fmt.Errorf("run witness %q: %w", run, err)
		}
		return nil
	})
}

// GetRunWitness returns a run's record; ErrNotFound if there is none.
func (s *Store) GetRunWitness(ctx context.Context, run string) (RunWitness, error) {
	w := RunWitness{Run: run}
	var updated string
	var removed sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT lines, last_hash, sealed, updated_at, removed_at FROM run_witness WHERE run = ?`, run).
		Scan(&w.Lines, &w.LastHash, &w.Sealed, &updated, &removed)
	if errors.Is(err, sql.ErrNoRows) {
		return RunWitness{}, fmt.Errorf("run witness %q: %w", run, ErrNotFound)
	}
	if err != nil {
		return RunWitness{}, fmt.Errorf("run witness %q: %w", run, err)
	}
	if w.UpdatedAt, err = parseTime(updated); err != nil {
		return RunWitness{}, err
	}
	if w.RemovedAt, err = parseTimePtr(removed); err != nil {
		return RunWitness{}, err
	}
	return w, nil
}

// RunRemoved marks a run deleted by retention (the record stays, so a run
// that vanished otherwise can be told apart) and drops its verification.
func (s *Store) RunRemoved(ctx context.Context, run string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE run_witness SET removed_at = ? WHERE run = ?`, formatTime(s.stamp()), run); err != nil {
			return fmt.Errorf("run witness %q: %w", run, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_verify WHERE run = ?`, run); err != nil {
			return fmt.Errorf("run verify %q: %w", run, err)
		}
		return nil
	})
}

// RunVerify is the last verification of a run: Fingerprint names what was
// verified, Result is the verification as its owner (the recorder) wrote
// it, JSON.
type RunVerify struct {
	Run         string          `json:"run"`
	Fingerprint string          `json:"fingerprint"`
	State       string          `json:"state"`
	Result      json.RawMessage `json:"result"`
	CheckedAt   time.Time       `json:"checked_at"`
}

// PutRunVerify stores a run's verification in place of the last one.
func (s *Store) PutRunVerify(ctx context.Context, v RunVerify) error {
	if !runIDRE.MatchString(v.Run) || v.Fingerprint == "" || v.State == "" || !json.Valid(v.Result) {
		return fmt.Errorf("run verify %q: %w", v.Run, ErrInvalid)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO run_verify (run, fingerprint, state, result, checked_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (run) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state,
				result = excluded.result, checked_at = excluded.checked_at`,
			v.Run, v.Fingerprint, v.State, string(v.Result), formatTime(v.CheckedAt))
		if err != nil {
			return fmt.Errorf("run verify %q: %w", v.Run, err)
		}
		return nil
	})
}

// GetRunVerify returns a run's last verification; ErrNotFound if none.
func (s *Store) GetRunVerify(ctx context.Context, run string) (RunVerify, error) {
	v := RunVerify{Run: run}
	var result, checked string
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint, state, result, checked_at FROM run_verify WHERE run = ?`, run).
		Scan(&v.Fingerprint, &v.State, &result, &checked)
	if errors.Is(err, sql.ErrNoRows) {
		return RunVerify{}, fmt.Errorf("run verify %q: %w", run, ErrNotFound)
	}
	if err != nil {
		return RunVerify{}, fmt.Errorf("run verify %q: %w", run, err)
	}
	v.Result = json.RawMessage(result)
	if v.CheckedAt, err = parseTime(checked); err != nil {
		return RunVerify{}, err
	}
	return v, nil
}
