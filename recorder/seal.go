package recorder

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Seal reasons.
const (
	SealStopped     = "stopped"     // Run.Stop
	SealShutdown    = "shutdown"    // the recorder stopped with the run live
	SealInterrupted = "interrupted" // repaired after a crash
)

// signer signs seals with the archive.signing_key, when there is one.
type signer struct{ key ed25519.PrivateKey }

// sealMessage is what a seal's signature covers: the hash of the line before
// the seal (which chains every earlier line) and the seal's own fields.
func sealMessage(prev string, s sealJSON) []byte {
	return fmt.Appendf(nil, "diemcau-seal-v1\nprev=%s\nlines=%d\nat=%s\nreason=%s\n", prev, s.Lines, s.At, s.Reason)
}

func (k signer) sign(s *sealJSON, prev string) {
	if k.key == nil {
		return
	}
	s.Key = hex.EncodeToString(k.key.Public().(ed25519.PublicKey))
	s.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, sealMessage(prev, *s)))
}

// checkSeal verifies a seal's signature with pub.
func checkSeal(s sealJSON, prev string, pub ed25519.PublicKey) error {
	if s.Sig == "" {
		return errors.New("the seal is not signed")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("the seal's signature is not a valid ed25519 signature")
	}
	if !ed25519.Verify(pub, sealMessage(prev, s), sig) {
		return errors.New("the seal's signature does not verify with the given public key")
	}
	return nil
}

// LoadSigningKey reads an ed25519 private key: PEM PKCS#8 ("PRIVATE KEY",
// from `openssl genpkey -algorithm ed25519`), or the 32-byte seed or 64-byte
// key in hex or base64.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%s: PEM block %q, want \"PRIVATE KEY\" (PKCS#8)", path, block.Type)
		}
		return parseDER[ed25519.PrivateKey](path, block.Bytes, x509.ParsePKCS8PrivateKey)
	}
	raw, err := decodeKeyText(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("%s: %d key bytes, want a 32-byte seed or a 64-byte key", path, len(raw))
}

// parseDER parses a PEM block's DER with parse and wants an ed25519 key
// of type K; path names the file in an error.
func parseDER[K ed25519.PrivateKey | ed25519.PublicKey](path string, der []byte, parse func([]byte) (any, error)) (K, error) {
	k, err := parse(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(K)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not an ed25519 key", path, k)
	}
	return key, nil
}

// LoadPublicKey reads the key that checks seals: PEM PKIX ("PUBLIC KEY",
// from `openssl pkey -pubout`), an OpenSSH "ssh-ed25519 …" line, 32 bytes in
// hex or base64, or the private key file itself.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		switch block.Type {
		case "PRIVATE KEY":
			priv, err := LoadSigningKey(path)
			if err != nil {
				return nil, err
			}
			return priv.Public().(ed25519.PublicKey), nil
		case "PUBLIC KEY":
			return parseDER[ed25519.PublicKey](path, block.Bytes, x509.ParsePKIXPublicKey)
		}
		return nil, fmt.Errorf("%s: PEM block %q, want \"PUBLIC KEY\"", path, block.Type)
	}
	if fields := strings.Fields(string(data)); len(fields) >= 2 && fields[0] == "ssh-ed25519" {
		return parseSSHKey(fields[1])
	}
	raw, err := decodeKeyText(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: %d key bytes, want 32", path, len(raw))
	}
	return ed25519.PublicKey(raw), nil
}

func decodeKeyText(data []byte) ([]byte, error) {
	s := string(bytes.TrimSpace(data))
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, errors.New("not PEM, hex or base64")
}

// parseSSHKey reads the blob of an OpenSSH public key line: the string
// "ssh-ed25519" then the 32-byte key, each length-prefixed.
func parseSSHKey(b64 string) (ed25519.PublicKey, error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	var parts [][]byte
	for len(blob) >= 4 && len(parts) < 2 {
		n := binary.BigEndian.Uint32(blob)
		if uint64(n) > uint64(len(blob)-4) {
			break
		}
		parts = append(parts, blob[4:4+n])
		blob = blob[4+n:]
	}
	if len(parts) != 2 || string(parts[0]) != "ssh-ed25519" || len(parts[1]) != ed25519.PublicKeySize {
		return nil, errors.New("ssh key: not an ssh-ed25519 key")
	}
	return ed25519.PublicKey(parts[1]), nil
}
