#include "beacon/beacon.h"

int main(int argc, char** argv) { return beacon::BeaconMain(argc, argv); }
