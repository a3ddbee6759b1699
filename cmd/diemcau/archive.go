package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the archive command lands; replace this whole file.
func newArchiveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "archive",
		Short: "archive (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("archive: not built yet")
		},
	}
}
