DROP TABLE grant_cut_offs;
