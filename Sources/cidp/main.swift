print("cidp")
