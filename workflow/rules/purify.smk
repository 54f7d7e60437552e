# Rules of the purify stage (added by the stage's owner).
