package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the version command lands; replace this whole file.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "version (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("version: not built yet")
		},
	}
}
