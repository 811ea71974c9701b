using MLNetVae.Cli;

return CliApp.Run(args, CliContext.ForConsole());
