package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	configPath := flag.String("config", defaultConfigPath, "YAML configuration `file`")
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *configPath, explicit); err != nil {
		// Before the configured logger exists too, stderr carries JSON only.
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("rcmhss: exiting", "err", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, configPath string, explicit bool) error {
	cfg, err := LoadConfig(configPath, explicit)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.File == "" {
		log.Warn("config: no file at the default path; built-in defaults and RCMHSS_* variables only (run from the repository root for the lab config, or pass --config)", "path", configPath)
	} else {
		log.Info("config: loaded", "file", cfg.File)
	}
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	return srv.run(ctx)
}
