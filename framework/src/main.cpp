#include "cli.hpp"

int main(int argc, char** argv) { return muonlab::cli_main(argc, argv); }
