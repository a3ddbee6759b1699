package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"diemcau/recorder"
)

// newArchiveCommand is `diemcau archive verify|export`.
func newArchiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Check and copy recorded runs",
	}
	cmd.AddCommand(newArchiveVerifyCommand(), newArchiveExportCommand())
	return cmd
}

func newArchiveVerifyCommand() *cobra.Command {
	var keyFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--key FILE] [--json] DIR",
		Short: "Check a recorded run against its manifest",
		Long: `Checks every segment of a run folder against manifest.jsonl: the hash chain,
each segment's size, sha256 and duration, files the manifest does not list,
the seal and, with --key, the seal's ed25519 signature.

Prints one line per problem (modified, missing, extra, reordered, truncated,
unsealed, signature, malformed), notes on gaps and repaired interruptions,
and "intact: …" when there is no problem.
Exit status: 0 intact, 1 problems found, 2 the run could not be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := loadPublicKey(keyFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			rep, err := recorder.Verify(args[0], pub)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("archive verify: %w", err)}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(out, rep)
			}
			if !rep.OK() {
				return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], len(rep.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "public key checking the seal's signature (PEM, ssh-ed25519, hex or base64; the private key file works too)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReport(w io.Writer, rep *recorder.Report) {
	for _, p := range rep.Problems {
		fmt.Fprintln(w, p)
	}
	for _, in := range rep.Interruptions {
		fmt.Fprintf(w, "note: interrupted: last write %s, repaired %s", in.LastWrite.Format("2006-01-02T15:04:05Z"), in.Detected.Format("2006-01-02T15:04:05Z"))
		if len(in.Recovered) > 0 {
			fmt.Fprintf(w, "; recovered %s", strings.Join(in.Recovered, ", "))
		}
		if len(in.Truncated) > 0 {
			fmt.Fprintf(w, "; cut to the last whole fragment: %s", strings.Join(in.Truncated, ", "))
		}
		if len(in.Discarded) > 0 {
			fmt.Fprintf(w, "; removed, no whole fragment: %s", strings.Join(in.Discarded, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, g := range rep.Gaps {
		fmt.Fprintf(w, "note: gap: %s had no signal from %s to %s (%v)\n", g.Stream,
			g.From.Format("2006-01-02T15:04:05.000Z"), g.To.Format("2006-01-02T15:04:05.000Z"), g.To.Sub(g.From).Round(100e6))
	}
	if !rep.OK() {
		return
	}
	sig := "unsigned"
	switch {
	case rep.SignatureChecked:
		sig = "signature checked"
	case rep.Signed:
		sig = "signed (give --key to check the signature)"
	}
	fmt.Fprintf(w, "intact: %d segments, %d bytes, sealed (%s), %s\n", rep.Segments, rep.Bytes, rep.SealReason, sig)
}

func newArchiveExportCommand() *cobra.Command {
	var runDir, dest, keyFile string
	cmd := &cobra.Command{
		Use:   "export --run DIR --to DEST [--key FILE]",
		Short: "Copy a run (to an external drive) and verify the copy",
		Long: `Copies a run folder to DEST/{session}/{stamp} when DEST is an existing folder,
else to DEST itself; never overwrites. Every file and folder is fsynced,
the copy is verified against its manifest, and only then renamed into place.
Progress goes to stderr; the copy's path to stdout.
Exit status: 0 copied and verified, 1 refused or failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := loadPublicKey(keyFile)
			if err != nil {
				return err
			}
			res, err := recorder.Export(cmd.Context(), runDir, dest, pub, cmd.ErrOrStderr())
			if res != nil && res.Report != nil {
				for _, p := range res.Report.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), p)
				}
			}
			if err != nil {
				return fmt.Errorf("archive export: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Target)
			return nil
		},
	}
	cmd.Flags().StringVar(&runDir, "run", "", "run folder to copy: {archive.root}/{session}/{stamp} (required)")
	cmd.Flags().StringVar(&dest, "to", "", "destination folder (required)")
	cmd.Flags().StringVar(&keyFile, "key", "", "public key checking the copy's seal signature")
	cmd.MarkFlagRequired("run")
	cmd.MarkFlagRequired("to")
	return cmd
}

func loadPublicKey(path string) (ed25519.PublicKey, error) {
	if path == "" {
		return nil, nil
	}
	pub, err := recorder.LoadPublicKey(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	return pub, nil
}
