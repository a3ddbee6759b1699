package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"diemcau/control/store"
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
	var keyFile, storeFile, configFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--key FILE] [--store FILE | --config FILE] [--json] DIR",
		Short: "Check a recorded run against its manifest",
		Long: `Checks every segment of a run folder against manifest.jsonl: the hash chain,
each segment's size, sha256 and duration, files the manifest does not list,
the seal and, with --key, the seal's ed25519 signature.

With --store (the server's SQLite file) or --config (its store and signing
key are used), the manifest is also compared with the witness: what the
server recorded of it, line by line, as it was written. A manifest cut short
(its seal with it) or rewritten disagrees with the witness even when its own
chain holds.

Without a checked signature the chain proves the order of the lines and
that none was changed in place, not who wrote them: anyone able to write
the archive could have rebuilt the whole chain. The output says so.

Prints one line per problem (modified, missing, extra, reordered, truncated,
unsealed, signature, malformed, witness), notes on gaps, repaired
interruptions and what was proved, and "intact: …" when there is no problem.
Exit status: 0 intact, 1 problems found, 2 the run could not be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if storeFile != "" && configFile != "" {
				return &exitError{code: 2, err: errors.New("archive verify: give --store or --config, not both")}
			}
			if configFile != "" {
				cfg, err := loadConfig(configFile, nil)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				storeFile = cfg.Store
				if keyFile == "" {
					keyFile = cfg.Archive.SigningKey // the private key file gives its public half
				}
			}
			pub, err := loadPublicKey(keyFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			opts := recorder.VerifyOptions{Key: pub}
			if storeFile != "" {
				if opts.Witness, err = readWitness(cmd.Context(), storeFile, args[0]); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("archive verify: %w", err)}
				}
				opts.CheckWitness = true
			}
			rep, err := recorder.VerifyContext(cmd.Context(), args[0], opts)
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
				printReport(out, rep, opts)
			}
			if !rep.OK() {
				return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], len(rep.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "public key checking the seal's signature (PEM, ssh-ed25519, hex or base64; the private key file works too)")
	cmd.Flags().StringVar(&storeFile, "store", "", "the server's store (SQLite file): compare the manifest with its witness")
	cmd.Flags().StringVar(&configFile, "config", "", "the server's config file: use its store, and its archive.signing_key when --key is not given")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// readWitness reads the store's record of the run in dir; nil when the
// store has none.
func readWitness(ctx context.Context, storeFile, dir string) (*recorder.ManifestWitness, error) {
	run, err := recorder.RunIDOf(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(storeFile); err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	st, err := store.Open(ctx, storeFile, nil)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	defer st.Close()
	w, found, err := archiveLedger{st}.ManifestWitness(ctx, run)
	if err != nil || !found {
		return nil, err
	}
	return &w, nil
}

func printReport(w io.Writer, rep *recorder.Report, opts recorder.VerifyOptions) {
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
		if in.TornBytes > 0 {
			fmt.Fprintf(w, "; a torn manifest line of %d bytes cut off (kept in the interruption line)", in.TornBytes)
		}
		fmt.Fprintln(w)
	}
	for _, g := range rep.Gaps {
		fmt.Fprintf(w, "note: gap: %s had no signal from %s to %s (%v)\n", g.Stream,
			g.From.Format("2006-01-02T15:04:05.000Z"), g.To.Format("2006-01-02T15:04:05.000Z"), g.To.Sub(g.From).Round(100e6))
	}
	switch rep.Witness {
	case recorder.WitnessAgrees:
		fmt.Fprintf(w, "note: witness: the store's record agrees (%s)\n", opts.Witness)
	case recorder.WitnessNone:
		fmt.Fprintln(w, "note: witness: the store has no record of this run (recorded before the witness, or by another server): a tail cut off with its seal cannot be told from a crash")
	case "":
		fmt.Fprintln(w, "note: witness: not consulted (give --store or --config): a tail cut off with its seal is only caught by a checked signature")
	}
	if !rep.SignatureChecked {
		why := "the run is not signed"
		if rep.Signed {
			why = "the seal is signed, but no --key was given to check it"
		}
		fmt.Fprintf(w, "note: authorship not proved (%s): the hash chain proves the order of the lines and that none was changed in place, not who wrote them; anyone able to write the archive could have rebuilt it\n", why)
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
