"""A software RFID-SIM: UICC core, one-card and STK applets, handset, PC/SC bridge, terminals."""
