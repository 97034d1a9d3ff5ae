#include "client/client.h"

int main(int argc, char** argv) { return client::ClientMain(argc, argv); }
