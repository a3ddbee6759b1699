package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the probe command lands; replace this whole file.
func newProbeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "probe",
		Short: "probe (not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("probe: not built yet")
		},
	}
}
