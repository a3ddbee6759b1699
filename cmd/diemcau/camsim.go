package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the camsim command lands; replace this whole file.
func newCamsimCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "camsim",
		Short: "camsim (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("camsim: not built yet")
		},
	}
}
