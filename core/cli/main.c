/* The gavel command: hands argv to the CLI dispatcher. */
#include "cli/cli.h"

int main(int argc, char **argv) { return gv_cli_main(argc, argv); }
